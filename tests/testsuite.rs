//! iproute2's own testsuite, unmodified, with sockq in place of ss.
//!
//! `testsuite/tests/ss/ssfilter.t` and `testsuite/lib/generic.sh` are extracted from the
//! iproute2 source tarball in `../shared/oracle/` and run as iproute2's `make` runs them: the
//! script's `ts_ss` runs `$SS` with its stderr and stdout in files, writes any stderr to
//! `$ERRF`, and `test_on` greps the stdout for the exact line it expects (`[SUCCESS]` or
//! `[FAILED]`). The script sets `TCPDIAG_FILE` to its `ss1.dump`, so this is ss's replay
//! interface that is tested: TCP only, up to the first NLMSG_DONE.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{iproute2_tarball, run_plain, shared_dir, show_output, sockq_program};

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sockq-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Extracts `testsuite/lib` and `testsuite/tests/ss` from the tarball into `into`, and returns
/// the extracted `testsuite` folder.
fn extract_testsuite(tarball: &Path, into: &Path) -> PathBuf {
    let out = run_plain(
        Command::new("tar")
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(into)
            .args(["--wildcards", "*/testsuite/lib/*", "*/testsuite/tests/ss/*"]),
    );
    assert!(
        out.status.success(),
        "extracting {}\n{}",
        tarball.display(),
        show_output(&out)
    );
    let top = std::fs::read_dir(into)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("nothing extracted from {}", tarball.display()));
    top.join("testsuite")
}

/// The 12 `ts_ss` checks of ssfilter.t, verbatim, with sockq as `$SS`: all succeed and no
/// command writes to stderr (generic.sh then creates `$ERRF`).
#[test]
fn iproute2_ssfilter_t_passes_verbatim() {
    let test = "iproute2_ssfilter_t_passes_verbatim";
    let (Some(shared), Some(tarball)) = (shared_dir(test), iproute2_tarball(test)) else {
        return;
    };
    let tmp = TempDir::new("testsuite");
    let suite = extract_testsuite(&tarball, &tmp.0);
    let script = suite.join("tests/ss/ssfilter.t");
    let body = std::fs::read_to_string(&script)
        .unwrap_or_else(|e| panic!("read {}: {e}", script.display()));
    let checks = body.lines().filter(|l| l.starts_with("ts_ss ")).count();
    assert_eq!(checks, 12, "ssfilter.t should hold 12 ts_ss checks");
    // The fixture beside the repository is the testsuite's own dump.
    let dump = std::fs::read(suite.join("tests/ss/ss1.dump")).unwrap_or_default();
    let fixture = std::fs::read(shared.join("fixtures/ss1.dump")).unwrap_or_default();
    assert!(
        !dump.is_empty() && dump == fixture,
        "fixtures/ss1.dump differs from the testsuite's"
    );

    let errf = tmp.0.join("ssfilter.err");
    let out = run_plain(
        Command::new("sh")
            .arg("tests/ss/ssfilter.t")
            .current_dir(&suite)
            .env_remove("COLUMNS")
            .env_remove("TCPDIAG_FILE")
            .env("SS", sockq_program())
            .env("STD_OUT", tmp.0.join("stdout"))
            .env("STD_ERR", tmp.0.join("stderr"))
            .env("ERRF", &errf),
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let errors = std::fs::read_to_string(&errf).unwrap_or_default();
    let passed = report.matches("[SUCCESS]").count();
    let failed = report.matches("[FAILED]").count();
    assert!(
        out.status.success() && passed == 12 && failed == 0 && !errf.exists(),
        "ssfilter.t: {passed}/12 passed, {failed} failed\n--- $ERRF ---\n{errors}\n{}",
        show_output(&out)
    );
    assert!(
        out.stderr.is_empty(),
        "ssfilter.t wrote to stderr\n{}",
        show_output(&out)
    );
}
