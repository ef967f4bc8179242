//! Long help shared by the exec and files clients: each subcommand's
//! examples and the exit-code table (one for every client, ssh-like).

/// The exit codes of `wirekit exec`, `shell`, `get`, `put` and `ls`.
macro_rules! exit_codes {
    () => {
        "EXIT STATUS (as ssh):
  0        success (exec/shell: the remote command exited 0)
  1-254    exec/shell: the remote command's own exit code (124: it timed out
           on the server, 128+N: killed by signal N)
  255      wirekit's own error: cannot connect, timeout, server busy, refused
           (not allowed, authentication required, wrong dialect), protocol
           error, md5 mismatch, local file error
  130      interrupted by Ctrl-C (get/put keep their partial, see --resume)
  141      stdout was closed by its reader (`| head`); nothing is printed
  2        bad command line"
    };
}

/// The exit-code table alone.
pub const EXIT_CODES: &str = exit_codes!();

/// `wirekit exec --help`.
pub const EXEC: &str = concat!(
    "EXAMPLES:
  wirekit exec 127.0.0.1:7000 ls -l /tmp
  wirekit exec 127.0.0.1:7000 --token-file ~/.wirekit-token -- 'uname -a; id'
  wirekit exec 127.0.0.1:7000 -- yes | head -2          (ends quietly)
  wirekit exec --dialect ack 127.0.0.1:7002 -- date     (an exec-ack listener)
  wirekit exec host:7000 --tls-pin sha256:HEX --token-file ~/.wirekit-token -- id
                             (an exec+tls listener; the token proof is bound to
                             this TLS session, so a relay in the middle fails)

",
    exit_codes!()
);

/// `wirekit shell --help`.
pub const SHELL: &str = concat!(
    "EXAMPLES:
  wirekit shell 127.0.0.1:7000                  (`>>> ` prompt; quit or Ctrl-D ends)
  printf 'date\\nuname\\n' | wirekit shell 127.0.0.1:7000     (no prompt when scripted)
  wirekit shell --dialect len 127.0.0.1:7001
  wirekit shell --tls host:7000 --token-file ~/.wirekit-token
                             (trust on first use, remembered in known_hosts)

",
    exit_codes!()
);

/// `wirekit get --help`.
pub const GET: &str = concat!(
    "EXAMPLES:
  wirekit get 127.0.0.1:8484 big.iso                 (resumes .big.iso.wirekit-part if there)
  wirekit get 127.0.0.1:8484 docs/a.txt -o ~/Downloads/
  wirekit get 127.0.0.1:8484 log.txt -o - | grep error
  wirekit get 127.0.0.1:8484 big.iso --restart       (discard a partial, start over)
  wirekit get --dialect seed004 127.0.0.1:8485 a.txt (a files-ack listener)

A download is written to .NAME.wirekit-part and renamed once its md5 matched;
the partial exists only once data arrived. Ctrl-C keeps it and says how to
resume.

",
    exit_codes!()
);

/// `wirekit put --help`.
pub const PUT: &str = concat!(
    "EXAMPLES:
  wirekit put 127.0.0.1:8484 big.iso
  wirekit put 127.0.0.1:8484 notes.txt backup/notes.txt --force
  tar c dir | wirekit put 127.0.0.1:8484 - dir.tar   (stdin; REMOTE required)
  wirekit put 127.0.0.1:8484 big.iso --resume        (after an interruption)

",
    exit_codes!()
);

/// `wirekit ls --help`.
pub const LS: &str = concat!(
    "EXAMPLES:
  wirekit ls 127.0.0.1:8484
  wirekit ls -lh 127.0.0.1:8484 docs

",
    exit_codes!()
);
