//! Replays one input through one target body on stable, without libFuzzer:
//! `cargo run --example replay -- <target> <file>` (from `fuzz/`). With `MACHINE_TRACE=1` the
//! `machine` target prints every action and output, which is how a crash gets explained.
//! `replay machine-stats <dir>` counts how many inputs of a corpus reached the browser step,
//! the token exchange, authorization, refresh and revocation.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, file] = args.as_slice() else {
        eprintln!("usage: replay <target> <file>");
        std::process::exit(2);
    };
    if target == "machine-stats" {
        return machine_stats(file);
    }
    let data = std::fs::read(file).expect("readable input file");
    let body: fn(&[u8]) = match target.as_str() {
        "www_authenticate" => mcp_oauth_fuzz::www_authenticate::run,
        "resource_metadata" => mcp_oauth_fuzz::resource_metadata::run,
        "server_metadata" => mcp_oauth_fuzz::server_metadata::run,
        "dcr_response" => mcp_oauth_fuzz::dcr_response::run,
        "token_response" => mcp_oauth_fuzz::token_response::run,
        "callback_query" => mcp_oauth_fuzz::callback_query::run,
        "callback_request_line" => mcp_oauth_fuzz::callback_request_line::run,
        "machine" => mcp_oauth_fuzz::machine::run,
        other => {
            eprintln!("unknown target {other}");
            std::process::exit(2);
        }
    };
    body(&data);
    println!("no crash");
}

fn machine_stats(dir: &str) {
    let mut n = [0usize; 6];
    for entry in std::fs::read_dir(dir).expect("corpus directory").flatten() {
        let data = std::fs::read(entry.path()).expect("readable corpus file");
        let r = mcp_oauth_fuzz::machine::run_with_stats(&data);
        for (slot, hit) in n.iter_mut().zip([
            true,
            r.browser,
            r.exchange,
            r.authorized,
            r.refresh,
            r.revocation,
        ]) {
            *slot += usize::from(hit);
        }
    }
    println!(
        "inputs {}: browser {}, token exchange {}, authorized {}, refresh {}, revocation {}",
        n[0], n[1], n[2], n[3], n[4], n[5]
    );
}
