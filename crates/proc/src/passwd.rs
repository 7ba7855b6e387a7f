//! uid -> user name from `/etc/passwd`, parsed directly (no NSS, so it
//! behaves the same in a static binary; LDAP/sssd users show as numbers).

use std::collections::HashMap;
use std::path::Path;

/// A uid -> name table read from a passwd file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserNames {
    names: HashMap<u32, String>,
}

impl UserNames {
    /// Reads `/etc/passwd`; an unreadable file gives an empty table.
    pub fn load() -> UserNames {
        UserNames::from_file(Path::new("/etc/passwd")).unwrap_or_default()
    }

    /// Reads a passwd-format file.
    pub fn from_file(path: &Path) -> std::io::Result<UserNames> {
        Ok(UserNames::parse(&std::fs::read(path)?))
    }

    /// Parses passwd-format text (`name:pw:uid:gid:gecos:home:shell`). The
    /// first entry for a uid wins, as with `getpwuid`; malformed lines, NIS
    /// `+`/`-` lines and non-UTF-8 names are skipped.
    pub fn parse(text: &[u8]) -> UserNames {
        let mut names = HashMap::new();
        for line in text.split(|&b| b == b'\n') {
            let mut fields = line.split(|&b| b == b':');
            let (Some(name), Some(_pw), Some(uid)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if name.is_empty() || name.starts_with(b"+") || name.starts_with(b"-") {
                continue;
            }
            let (Ok(name), Some(uid)) = (std::str::from_utf8(name), crate::read::parse_u32(uid))
            else {
                continue;
            };
            names.entry(uid).or_insert_with(|| name.to_owned());
        }
        UserNames { names }
    }

    /// The name of a uid, if listed.
    pub fn name(&self, uid: u32) -> Option<&str> {
        self.names.get(&uid).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd() {
        let u = UserNames::parse(
            b"root:x:0:0:root:/root:/bin/bash\n\
              +nis::::::\n\
              broken line\n\
              www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
              toor:x:0:0::/:/bin/sh\n\
              bad:x:notanumber:0::/:\n\
              nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
        );
        assert_eq!(u.name(0), Some("root"));
        assert_eq!(u.name(33), Some("www-data"));
        assert_eq!(u.name(65534), Some("nobody"));
        assert_eq!(u.name(1000), None);
    }
}
