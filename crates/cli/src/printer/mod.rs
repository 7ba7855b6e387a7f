//! Printers: they take model records and a writer, nothing else.

pub mod blocks;
pub mod ext;
pub mod json;
pub mod json_obj;
pub mod json_process;
pub mod num;
pub mod process;
pub mod row;
pub mod summary;
pub mod table;
