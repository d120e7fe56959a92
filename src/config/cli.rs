//! The command line: `[check [--check a,b]] [--flag VALUE | --flag=VALUE]...
//! [--help] [--version]`, and the `--help` text. The flags themselves are
//! the knobs of [`super::KNOBS`]; [`Raw::new`](super::Raw::new) applies them.

use super::{BadName, CheckId, ConfigError, KNOBS, flag_name, parse_list};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Run checks once (`--check a,b` or the defaults), print JSON, exit 0/1.
    Check(Option<Vec<CheckId>>),
    Help,
    Version,
}

/// Parses `[check] [--check a,b] [--flag VALUE | --flag=VALUE]... [--help] [--version]`.
/// Returns the command and the `(flag, value)` pairs for [`Raw::new`].
pub fn parse_args(args: &[String]) -> Result<(Command, Vec<(String, String)>), ConfigError> {
    let mut command = Command::Serve;
    let mut flags = Vec::new();
    let mut check_list: Option<String> = None;
    let mut it = args.iter().enumerate();
    while let Some((i, arg)) = it.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok((Command::Help, flags)),
            "-V" | "--version" => return Ok((Command::Version, flags)),
            "check" if i == 0 => command = Command::Check(None),
            _ => {
                let Some(flag) = arg.strip_prefix("--") else {
                    return Err(ConfigError(format!("unexpected argument {arg:?} (see --help)")));
                };
                let (name, value) = match flag.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        let v = it.next().map(|(_, v)| v.clone());
                        (flag.to_string(), v.ok_or_else(|| ConfigError(format!("option --{flag} needs a value")))?)
                    }
                };
                if name == "check" {
                    if command == Command::Serve {
                        return Err(ConfigError("--check is only valid after the `check` subcommand".into()));
                    }
                    check_list = Some(value);
                } else {
                    flags.push((name, value));
                }
            }
        }
    }
    if let (Command::Check(_), Some(list)) = (&command, check_list) {
        let ids = parse_list(list.split(',').map(str::trim)).map_err(|e| {
            let item = match e {
                BadName::Empty => String::new(),
                BadName::Unknown(item) => item,
            };
            ConfigError(format!("unknown check {item:?} in --check; known: {}", CheckId::names().join(",")))
        })?;
        command = Command::Check(Some(ids));
    }
    Ok((command, flags))
}

/// `--help` text: usage, then every knob with its flag, variable and default.
pub fn help_text() -> String {
    let mut s = String::from(concat!(
        "harmony-node-readiness-endpoint ",
        env!("CARGO_PKG_VERSION"),
        "\nAnswers GET /health on every Kubernetes node: 200 = send traffic here, 503 = take this node out of the pool.\n\n",
        "USAGE:\n",
        "    harmony-node-readiness-endpoint [--flag VALUE]...          serve HTTP\n",
        "    harmony-node-readiness-endpoint check [--check a,b] [...]  run checks once, print JSON,\n",
        "                                                               exit 0 ready / 1 not ready / 2 usage\n",
        "    harmony-node-readiness-endpoint status [--url URL]         print the running service's status\n",
        "                                                               (default http://127.0.0.1:25001), exit 0 ready /\n",
        "                                                               1 not ready / 2 unreachable\n",
        "    harmony-node-readiness-endpoint --help | --version\n\n",
        "Every option is an environment variable or the matching flag (the flag wins):\n\n",
    ));
    for k in KNOBS {
        let default = if k.default.is_empty() { "(unset)".to_string() } else { k.default.to_string() };
        s.push_str(&format!("  --{:<30} {}\n      {}  [default: {}]\n", flag_name(k.env), k.env, k.help, default));
    }
    s.push_str(&format!("\nChecks: {}\n", CheckId::names().join(", ")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let args = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&[]).unwrap().0, Command::Serve);
        let (cmd, flags) = args(&["check", "--check", "kubelet,kubelet", "--listen-port=1"]).unwrap();
        assert_eq!(cmd, Command::Check(Some(vec![CheckId::Kubelet])));
        assert_eq!(flags, vec![("listen-port".to_string(), "1".to_string())]);
        assert_eq!(args(&["--log-format", "json"]).unwrap().1, vec![("log-format".into(), "json".into())]);
        assert_eq!(args(&["--help"]).unwrap().0, Command::Help);
        assert!(args(&["check", "--check", "nope"]).is_err());
        assert!(args(&["--check", "kubelet"]).is_err());
        assert!(args(&["serve"]).is_err());
        assert!(args(&["--listen-port"]).is_err());
    }
}
