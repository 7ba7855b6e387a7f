//! ss's column layout.
//!
//! Rows are formatted into a byte arena as ten tokens each. Widths are the
//! largest token per column (plus the left delimiter), as ss computes them.
//! When the arena passes [`CHUNK_LIMIT`] the buffered rows are rendered and
//! dropped, so memory stays bounded however many sockets there are; like ss,
//! alignment then restarts for the next chunk.
//!
//! Not a tty (and no `COLUMNS`): columns are as wide as their widest token and
//! the last column before the free-form details gets no padding (ss 7.x).
//! On a tty, the spare screen width is spread over the columns as ss does.

use std::io::{self, Write};

/// Render and drop the buffered rows once this many bytes are buffered.
pub const CHUNK_LIMIT: usize = 4 << 20;

/// Column indices.
pub const NETID: usize = 0;
/// State column.
pub const STATE: usize = 1;
/// Recv-Q column.
pub const RECVQ: usize = 2;
/// Send-Q column.
pub const SENDQ: usize = 3;
/// Local address (with its trailing `:`).
pub const LADDR: usize = 4;
/// Local port.
pub const LPORT: usize = 5;
/// Peer address (with its trailing `:`).
pub const PADDR: usize = 6;
/// Peer port.
pub const PPORT: usize = 7;
/// Process (`users:(…)`, without ss's leading space).
pub const PROCESS: usize = 8;
/// Free-form details, never padded.
pub const EXT: usize = 9;
/// Number of tokens per row.
pub const NCOLS: usize = 10;

const HEADERS: [&str; NCOLS] = [
    "Netid",
    "State",
    "Recv-Q",
    "Send-Q",
    "Local Address:",
    "Port",
    "Peer Address:",
    "Port",
    "Process",
    "",
];
// Process gets a one-space delimiter (ss puts the space inside its token,
// which makes the header read `Port` + `Process` with no space between).
const LDELIM: [usize; NCOLS] = [0, 1, 1, 1, 1, 0, 1, 0, 1, 0];
const RIGHT: [bool; NCOLS] = [
    false, false, false, false, true, false, true, false, false, false,
];
const SPACES: [u8; 256] = [b' '; 256];

/// Which columns are shown.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Enabled columns.
    pub enabled: [bool; NCOLS],
    /// Print the header line.
    pub header: bool,
    /// Screen width (a tty or `COLUMNS`); `None` renders compactly.
    pub screen: Option<usize>,
}

impl Layout {
    /// A layout from ss's column switches.
    pub fn new(netid: bool, state: bool, queues: bool, process: bool) -> Layout {
        let mut enabled = [true; NCOLS];
        enabled[NETID] = netid;
        enabled[STATE] = state;
        enabled[RECVQ] = queues;
        enabled[SENDQ] = queues;
        enabled[PROCESS] = process;
        Layout {
            enabled,
            header: true,
            screen: None,
        }
    }
}

/// The table printer. Callers write a row's tokens into [`TablePrinter::buf`],
/// calling [`TablePrinter::cut`] after each, then [`TablePrinter::end_row`].
pub struct TablePrinter<W: Write> {
    out: W,
    layout: Layout,
    arena: Vec<u8>,
    /// Token end offsets per row (relative to the row's start).
    rows: Vec<[u32; NCOLS]>,
    row_start: usize,
    ntok: usize,
    cur: [u32; NCOLS],
    max: [usize; NCOLS],
    header_pending: bool,
}

impl<W: Write> TablePrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, layout: Layout) -> Self {
        let mut p = TablePrinter {
            out,
            layout,
            arena: Vec::with_capacity(64 << 10),
            rows: Vec::new(),
            row_start: 0,
            ntok: 0,
            cur: [0; NCOLS],
            max: [0; NCOLS],
            header_pending: layout.header,
        };
        if p.header_pending {
            for (i, h) in HEADERS.iter().enumerate() {
                p.max[i] = h.len();
            }
        }
        p
    }

    /// The buffer the current token is written into.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.arena
    }

    /// Ends the current token.
    pub fn cut(&mut self) {
        if self.ntok < NCOLS {
            self.cur[self.ntok] = (self.arena.len() - self.row_start) as u32;
            self.ntok += 1;
        }
    }

    /// Ends the row; missing tokens are empty. Renders when the arena is full.
    pub fn end_row(&mut self) -> io::Result<()> {
        while self.ntok < NCOLS {
            self.cut();
        }
        let mut prev = 0usize;
        for i in 0..NCOLS {
            let end = self.cur[i] as usize;
            let len = end.saturating_sub(prev);
            if len > self.max[i] {
                self.max[i] = len;
            }
            prev = end;
        }
        self.rows.push(self.cur);
        self.ntok = 0;
        self.row_start = self.arena.len();
        if self.arena.len() >= CHUNK_LIMIT {
            self.render()?;
        }
        Ok(())
    }

    /// Drops a row that was started but is not wanted.
    pub fn abandon_row(&mut self) {
        self.arena.truncate(self.row_start);
        self.ntok = 0;
    }

    fn widths(&self) -> [usize; NCOLS] {
        let en = &self.layout.enabled;
        let screen = self.layout.screen.unwrap_or(usize::MAX);
        let mut w = [0usize; NCOLS];
        let mut first = true;
        for c in 0..EXT {
            if !en[c] {
                continue;
            }
            w[c] = if !first && self.max[c] > 0 {
                self.max[c] + LDELIM[c]
            } else {
                self.max[c]
            };
            w[c] = w[c].min(screen);
            if w[c] > 0 {
                first = false;
            }
        }
        if let Some(screen) = self.layout.screen {
            // ss's second pass: split the columns into screen-wide lines and
            // spread each line's spare width, the remainder going to the
            // rightmost columns.
            let cols: Vec<usize> = (0..EXT).filter(|c| en[*c]).collect();
            let mut line: Vec<usize> = Vec::new();
            let mut used = 0usize;
            let spread = |line: &[usize], used: usize, w: &mut [usize; NCOLS]| {
                if line.is_empty() || used >= screen {
                    return;
                }
                let pad = screen - used;
                let each = pad / line.len();
                let extra = pad % line.len();
                for (k, c) in line.iter().enumerate() {
                    w[*c] += each + usize::from(k >= line.len() - extra);
                }
            };
            for c in cols {
                if used + w[c] > screen && !line.is_empty() {
                    spread(&line, used, &mut w);
                    line.clear();
                    used = 0;
                }
                used += w[c];
                line.push(c);
            }
            spread(&line, used, &mut w);
        }
        w
    }

    fn render(&mut self) -> io::Result<()> {
        let w = self.widths();
        let en = self.layout.enabled;
        let compact = self.layout.screen.is_none();
        let last = (0..EXT).rev().find(|c| en[*c]).unwrap_or(0);
        if self.header_pending {
            self.header_pending = false;
            let mut toks: [&[u8]; NCOLS] = [b""; NCOLS];
            for (i, h) in HEADERS.iter().enumerate() {
                toks[i] = h.as_bytes();
            }
            write_line(&mut self.out, &toks, &w, &en, compact, last)?;
        }
        let mut start = 0usize;
        for row in &self.rows {
            let mut toks: [&[u8]; NCOLS] = [b""; NCOLS];
            let mut prev = start;
            for i in 0..NCOLS {
                let end = start + row[i] as usize;
                toks[i] = self.arena.get(prev..end).unwrap_or(b"");
                prev = end;
            }
            write_line(&mut self.out, &toks, &w, &en, compact, last)?;
            start = prev;
        }
        self.arena.clear();
        self.rows.clear();
        self.row_start = 0;
        // Alignment restarts with the next chunk.
        self.max = [0; NCOLS];
        Ok(())
    }

    /// Renders what is buffered and flushes the writer.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.rows.is_empty() || self.header_pending {
            self.render()?;
        }
        self.out.flush()
    }

    /// Renders buffered rows now (used by `-E`, which prints as events come).
    pub fn flush_rows(&mut self) -> io::Result<()> {
        self.render()?;
        self.out.flush()
    }

    /// The underlying writer.
    pub fn writer(&mut self) -> &mut W {
        &mut self.out
    }
}

fn pad<W: Write>(out: &mut W, mut n: usize) -> io::Result<()> {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.write_all(&SPACES[..k])?;
        n -= k;
    }
    Ok(())
}

fn write_line<W: Write>(
    out: &mut W,
    toks: &[&[u8]; NCOLS],
    w: &[usize; NCOLS],
    en: &[bool; NCOLS],
    compact: bool,
    last: usize,
) -> io::Result<()> {
    let mut started = false;
    for c in 0..EXT {
        if !en[c] {
            continue;
        }
        let tok = toks[c];
        let mut printed = 0;
        if started {
            pad(out, LDELIM[c])?;
            printed = LDELIM[c];
        }
        started = true;
        if RIGHT[c] {
            pad(out, w[c].saturating_sub(tok.len() + printed))?;
            out.write_all(tok)?;
        } else {
            out.write_all(tok)?;
            printed += tok.len();
            if !(compact && c == last) {
                pad(out, w[c].saturating_sub(printed))?;
            }
        }
    }
    out.write_all(toks[EXT])?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &mut TablePrinter<Vec<u8>>, toks: &[&str]) {
        for t in toks {
            p.buf().extend_from_slice(t.as_bytes());
            p.cut();
        }
        p.end_row().unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn matches_ss_compact_layout() {
        // ss -tna on ss1.dump (spec 6.1 and 8.4), not a tty.
        let rows: [[&str; 8]; 4] = [
            ["", "LISTEN", "0     ", "128   ", "0.0.0.0:", "22", "0.0.0.0:", "*"],
            ["", "ESTAB", "0     ", "0     ", "10.0.0.1:", "22", "10.0.0.1:", "36266"],
            ["", "ESTAB", "0     ", "0     ", "10.0.0.1:", "36266", "10.0.0.1:", "22"],
            ["", "ESTAB", "0     ", "0     ", "10.0.0.1:", "22", "10.0.0.2:", "50312"],
        ];
        let mut p = TablePrinter::new(Vec::new(), Layout::new(false, true, true, false));
        for r in &rows {
            row(&mut p, r);
        }
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(p.writer()).into_owned();
        let want = "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port\n\
                    LISTEN 0      128          0.0.0.0:22         0.0.0.0:*\n\
                    ESTAB  0      0           10.0.0.1:22        10.0.0.1:36266\n";
        assert!(got.starts_with(want), "{got}");
        let mut l = Layout::new(false, true, true, false);
        l.header = false;
        let mut p = TablePrinter::new(Vec::new(), l);
        for r in &rows {
            row(&mut p, r);
        }
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        let want = "LISTEN 0      128     0.0.0.0:22     0.0.0.0:*\n\
                    ESTAB  0      0      10.0.0.1:22    10.0.0.1:36266\n\
                    ESTAB  0      0      10.0.0.1:36266 10.0.0.1:22\n\
                    ESTAB  0      0      10.0.0.1:22    10.0.0.2:50312\n";
        assert_eq!(String::from_utf8_lossy(p.writer()), want);
    }

    #[test]
    fn single_row_no_header() {
        let mut l = Layout::new(false, true, true, false);
        l.header = false;
        let mut p = TablePrinter::new(Vec::new(), l);
        row(
            &mut p,
            &[
                "",
                "ESTAB",
                "0     ",
                "0     ",
                "10.0.0.1:",
                "36266",
                "10.0.0.1:",
                "22",
            ],
        );
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(p.writer()),
            "ESTAB 0      0      10.0.0.1:36266 10.0.0.1:22\n"
        );
    }

    #[test]
    fn screen_spreads_spare_width() {
        // First-pass widths 10,7,7,20,5,20,5 at 100 columns give 13,10,11,24,9,24,9 (spec 6.1).
        let mut l = Layout::new(false, true, true, false);
        l.header = false;
        l.screen = Some(100);
        let mut p = TablePrinter::new(Vec::new(), l);
        row(
            &mut p,
            &[
                "",
                "FIN-WAIT-1",
                "0     ",
                "0     ",
                "123456789012345678:",
                "12345",
                "123456789012345678:",
                "12345",
            ],
        );
        let w = p.widths();
        assert_eq!(&w[1..8], &[13, 10, 11, 24, 9, 24, 9]);
    }
}
