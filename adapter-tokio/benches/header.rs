//! `cargo bench -p mcp-oauth-tokio --bench header`: the cost of `Authorizer::header()` on the
//! hot path (valid token), and the number of token requests when many callers find the token
//! expired at once (single flight: the target is 1 for every row).
//!
//! A plain binary (`harness = false`): it prints a small table and needs no bench framework.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::{
    AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, Config, HttpRequest,
    HttpResponse, RefreshToken, Session, TokenSet, TokenType, SESSION_VERSION,
};
use mcp_oauth_store::{MemoryStore, SessionStore};
use mcp_oauth_tokio::{Authorizer, BoxFuture, HttpClient, NoBrowser, Options};

const SERVER: &str = "https://mcp.example.com/mcp";

/// A token endpoint that counts refresh requests and takes 20 ms to answer.
struct FakeTokenEndpoint {
    requests: AtomicUsize,
}

impl HttpClient for FakeTokenEndpoint {
    fn send<'a>(
        &'a self,
        _req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, mcp_oauth_core::TransportError>> {
        Box::pin(async move {
            let n = self.requests.fetch_add(1, Ordering::SeqCst) + 2;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(HttpResponse {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: format!(
                    r#"{{"access_token":"at-{n}","token_type":"Bearer","refresh_token":"rt-{n}","expires_in":3600}}"#
                )
                .into_bytes(),
            })
        })
    }
}

fn session(expires_at: u64) -> Session {
    Session {
        version: SESSION_VERSION,
        server: SERVER.into(),
        resource: Some(SERVER.into()),
        issuer: "https://as.example.com".into(),
        token_endpoint: "https://as.example.com/token".into(),
        revocation_endpoint: None,
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: "https://as.example.com".into(),
            client_id: "client-1".into(),
            client_secret: None,
            secret_expires_at: None,
            auth_method: ClientAuthMethod::None,
            redirect_uri: None,
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new("at-1"),
            token_type: TokenType::Bearer,
            refresh_token: Some(RefreshToken::new("rt-1")),
            expires_at: Some(expires_at),
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: vec![],
        discovery: None,
        settings: Default::default(),
    }
}

fn wall() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn authorizer(expires_at: u64) -> (Authorizer, Arc<FakeTokenEndpoint>) {
    let store = MemoryStore::new();
    store.save(SERVER, &session(expires_at)).expect("save");
    let fake = Arc::new(FakeTokenEndpoint {
        requests: AtomicUsize::new(0),
    });
    let mut options = Options::new(Arc::new(store));
    options.http_client = Some(fake.clone());
    options.browser = Arc::new(NoBrowser);
    options.paste_from_stdin = false;
    let mut config = Config::new(SERVER);
    config.interactive = false;
    let auth = Authorizer::new(config, options).await.expect("authorizer");
    (auth, fake)
}

fn hot_path_single_task() -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (auth, fake) = authorizer(wall() + 3600).await;
        for _ in 0..10_000 {
            black_box(auth.header().await.expect("header"));
        }
        const N: u32 = 1_000_000;
        let start = Instant::now();
        for _ in 0..N {
            black_box(auth.header().await.expect("header"));
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(N);
        assert_eq!(fake.requests.load(Ordering::SeqCst), 0);
        ns
    })
}

/// Total calls per second spread over `tasks` tasks on a multi-thread runtime (contention on
/// the one mutex).
fn hot_path_contended(tasks: u32) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (auth, _fake) = authorizer(wall() + 3600).await;
        const PER_TASK: u32 = 200_000;
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let auth = auth.clone();
                tokio::spawn(async move {
                    for _ in 0..PER_TASK {
                        black_box(auth.header().await.expect("header"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task");
        }
        start.elapsed().as_nanos() as f64 / f64::from(tasks * PER_TASK)
    })
}

fn expired_token_callers(callers: usize) -> (usize, usize, Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (auth, fake) = authorizer(wall() - 100).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(callers));
        let start = Instant::now();
        let handles: Vec<_> = (0..callers)
            .map(|_| {
                let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    auth.header()
                        .await
                        .expect("header")
                        .expose_secret()
                        .to_owned()
                })
            })
            .collect();
        let mut same = 0;
        for h in handles {
            if h.await.expect("task") == "Bearer at-2" {
                same += 1;
            }
        }
        (fake.requests.load(Ordering::SeqCst), same, start.elapsed())
    })
}

fn main() {
    println!("mcp-oauth-tokio: Authorizer::header()");
    println!();
    println!("| hot path (valid token)                     | ns per call |");
    println!("|--------------------------------------------|-------------|");
    println!(
        "| 1 task, current-thread runtime             | {:>11.0} |",
        hot_path_single_task()
    );
    for tasks in [2, 8] {
        println!(
            "| {tasks} tasks, multi-thread (wall time / calls)  | {:>11.0} |",
            hot_path_contended(tasks)
        );
    }
    println!();
    println!("| expired token: concurrent callers | token requests | callers with the new token | wall time |");
    println!("|-----------------------------------|----------------|----------------------------|-----------|");
    for callers in [1, 10, 100, 1000] {
        let (requests, same, took) = expired_token_callers(callers);
        println!(
            "| {callers:>33} | {requests:>14} | {same:>26} | {:>6.1} ms |",
            took.as_secs_f64() * 1000.0
        );
    }
}
