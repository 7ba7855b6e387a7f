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
pub const CHUNK_LIMIT: usize = 2 << 20;

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
/// Process (` users:(…)`, with ss's leading space).
pub const PROCESS: usize = 8;
/// Free-form details, never padded.
pub const EXT: usize = 9;
/// Optional leading column (Netns with `--all-netns`, Time with `-E`): its
/// token is written last in a row but printed first.
pub const LEAD: usize = 10;
/// Number of tokens per row.
pub const NCOLS: usize = 11;

/// The padded columns in printing order (EXT follows, unpadded).
const DISPLAY: [usize; 10] = [
    LEAD, NETID, STATE, RECVQ, SENDQ, LADDR, LPORT, PADDR, PPORT, PROCESS,
];

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
    "",
];
// As in ss, the Process token carries its own leading space, so the header
// can read `Peer Address:PortProcess`: jc's ss parser relies on that.
// Netid's delimiter only shows when the lead column precedes it.
const LDELIM: [usize; NCOLS] = [1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0];
const RIGHT: [bool; NCOLS] = [
    false, false, false, false, true, false, true, false, false, false, false,
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
    /// Header of the leading column, when it is enabled.
    pub lead_header: &'static str,
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
        enabled[LEAD] = false;
        Layout {
            enabled,
            header: true,
            screen: None,
            lead_header: "",
        }
    }

    /// Enables the leading column with this header.
    pub fn with_lead(mut self, header: &'static str) -> Layout {
        self.enabled[LEAD] = true;
        self.lead_header = header;
        self
    }
}

/// The table printer. Callers write a row's tokens into [`TablePrinter::buf`],
/// calling [`TablePrinter::cut`] after each, then [`TablePrinter::end_row`].
pub struct TablePrinter<W: Write> {
    out: W,
    layout: Layout,
    /// Tokens, each followed by a NUL (names are escaped, so no token holds
    /// one): no per-row offsets to store.
    arena: Vec<u8>,
    nrows: usize,
    row_start: usize,
    tok_start: usize,
    ntok: usize,
    max: [usize; NCOLS],
    header_pending: bool,
}

impl<W: Write> TablePrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, layout: Layout) -> Self {
        let mut p = TablePrinter {
            out,
            layout,
            // Reserved once, so the arena never reallocates (and copies)
            // while it fills; pages are only touched as rows are written.
            arena: Vec::with_capacity(CHUNK_LIMIT + (64 << 10)),
            nrows: 0,
            row_start: 0,
            tok_start: 0,
            ntok: 0,
            max: [0; NCOLS],
            header_pending: layout.header,
        };
        if p.header_pending {
            for (i, h) in HEADERS.iter().enumerate() {
                p.max[i] = h.len();
            }
            p.max[LEAD] = layout.lead_header.len();
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
            let len = self.arena.len() - self.tok_start;
            debug_assert!(!self.arena[self.tok_start..].contains(&0), "NUL in a token");
            if len > self.max[self.ntok] {
                self.max[self.ntok] = len;
            }
            self.arena.push(0);
            self.tok_start = self.arena.len();
            self.ntok += 1;
        }
    }

    /// Ends the row; missing tokens are empty. Renders when the arena is full.
    pub fn end_row(&mut self) -> io::Result<()> {
        while self.ntok < NCOLS {
            self.cut();
        }
        self.nrows += 1;
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
        self.tok_start = self.row_start;
        self.ntok = 0;
    }

    fn widths(&self) -> [usize; NCOLS] {
        let en = &self.layout.enabled;
        let screen = self.layout.screen.unwrap_or(usize::MAX);
        let mut w = [0usize; NCOLS];
        let mut first = true;
        for c in DISPLAY {
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
            let cols: Vec<usize> = DISPLAY.into_iter().filter(|c| en[*c]).collect();
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
        let last = DISPLAY.into_iter().rev().find(|c| en[*c]).unwrap_or(0);
        if self.header_pending {
            self.header_pending = false;
            let mut toks: [&[u8]; NCOLS] = [b""; NCOLS];
            for (i, h) in HEADERS.iter().enumerate() {
                toks[i] = h.as_bytes();
            }
            toks[LEAD] = self.layout.lead_header.as_bytes();
            write_line(&mut self.out, &toks, &w, &en, compact, last)?;
        }
        // Tokens are NUL-terminated; memchr finds the ends a word at a time
        // (the `-i` text is long).
        let mut rest: &[u8] = &self.arena;
        for _ in 0..self.nrows {
            let mut toks: [&[u8]; NCOLS] = [b""; NCOLS];
            for t in toks.iter_mut() {
                let end = memchr::memchr(0, rest).unwrap_or(rest.len());
                *t = rest.get(..end).unwrap_or_default();
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            write_line(&mut self.out, &toks, &w, &en, compact, last)?;
        }
        self.arena.clear();
        self.nrows = 0;
        self.row_start = 0;
        self.tok_start = 0;
        // Alignment restarts with the next chunk.
        self.max = [0; NCOLS];
        Ok(())
    }

    /// Renders what is buffered and flushes the writer.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.nrows > 0 || self.header_pending {
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
    for c in DISPLAY {
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
            [
                "", "LISTEN", "0     ", "128   ", "0.0.0.0:", "22", "0.0.0.0:", "*",
            ],
            [
                "",
                "ESTAB",
                "0     ",
                "0     ",
                "10.0.0.1:",
                "22",
                "10.0.0.1:",
                "36266",
            ],
            [
                "",
                "ESTAB",
                "0     ",
                "0     ",
                "10.0.0.1:",
                "36266",
                "10.0.0.1:",
                "22",
            ],
            [
                "",
                "ESTAB",
                "0     ",
                "0     ",
                "10.0.0.1:",
                "22",
                "10.0.0.2:",
                "50312",
            ],
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

    #[test]
    fn lead_column_prints_first() {
        let l = Layout::new(false, true, false, false).with_lead("Netns");
        let mut p = TablePrinter::new(Vec::new(), l);
        // Tokens 0..=EXT, then the lead token.
        row(
            &mut p,
            &[
                "", "LISTEN", "", "", "0.0.0.0:", "22", "0.0.0.0:", "*", "", "", "ns-a",
            ],
        );
        row(
            &mut p,
            &[
                "",
                "LISTEN",
                "",
                "",
                "127.0.0.1:",
                "8080",
                "0.0.0.0:",
                "*",
                "",
                "",
                "net:[4026532281](pid 1234)",
            ],
        );
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(p.writer()).into_owned();
        let want = "Netns                      State  Local Address:Port Peer Address:Port\n\
                    ns-a                       LISTEN       0.0.0.0:22        0.0.0.0:*\n\
                    net:[4026532281](pid 1234) LISTEN     127.0.0.1:8080      0.0.0.0:*\n";
        assert_eq!(got, want);
    }
}
