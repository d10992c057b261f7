//! `-v` and `RUST_LOG`: the library's `tracing` events (one span per drive, an event per OAuth
//! request and decision; README "Diagnostics") printed on stderr. Stdout stays data only.
//!
//! `RUST_LOG` wins when set (`RUST_LOG=mcp_oauth=debug`, `RUST_LOG=mcp_oauth_core=trace`);
//! otherwise `-v` shows the decisions (`mcp_oauth=info`) and `-vv` every request
//! (`mcp_oauth=debug`). Every event target starts with `mcp_oauth_` (a crate's module path), and
//! the filter matches targets by prefix, so `mcp_oauth` selects all of this project's crates.
//! The events carry no secret and only sanitised server text (printable ASCII), so they need
//! no terminal escaping here.

use tracing_subscriber::EnvFilter;

/// The filter for `verbose` (`-v` count) and the `RUST_LOG` value, if any; `None` = no output.
fn directives(verbose: u8, rust_log: Option<String>) -> Option<String> {
    match (rust_log.filter(|v| !v.trim().is_empty()), verbose) {
        (Some(env), _) => Some(env),
        (None, 0) => None,
        (None, 1) => Some("mcp_oauth=info".into()),
        (None, _) => Some("mcp_oauth=debug".into()),
    }
}

/// Installs the stderr subscriber when `-v` or `RUST_LOG` asks for one.
pub fn init(verbose: u8) {
    let Some(directives) = directives(verbose, std::env::var("RUST_LOG").ok()) else {
        return;
    };
    // An unparsable directive is skipped (and reported by the filter), never fatal.
    let filter = EnvFilter::builder().parse_lossy(directives);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn rust_log_wins_then_the_verbosity_decides() {
        let env = Some("mcp_oauth_core=trace".to_string());
        assert_eq!(directives(2, env.clone()).as_deref(), env.as_deref());
        assert_eq!(directives(0, env.clone()).as_deref(), env.as_deref());
        assert_eq!(directives(0, None), None);
        assert_eq!(directives(0, Some("  ".into())), None);
        assert_eq!(directives(1, None).as_deref(), Some("mcp_oauth=info"));
        assert_eq!(directives(3, None).as_deref(), Some("mcp_oauth=debug"));
    }
}
