//! The `kafkascope` command: `serve`, `agent`, `check-config`, `example-config`, `bench-store`.

use clap::{Parser, Subcommand};
use kafkascope::catalogue::Catalogue;
use kafkascope::collector::Collector;
use kafkascope::config::{self, Config};
use kafkascope::sources::PlannedTarget;
use kafkascope::store::{Store, StoreConfig};
use kafkascope::{sources, targets::TargetRegistry, web};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "kafkascope",
    version,
    about = "Kafka and ZooKeeper metrics with history, in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect from every configured source and serve the pages and the API.
    Serve {
        /// Config file; without it, the local defaults run (kafkascope.db here, 127.0.0.1:8080,
        /// ZooKeeper on 127.0.0.1:2181).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override `server.listen` (e.g. 127.0.0.1:0 to pick a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Override `server.database`.
        #[arg(long)]
        database: Option<PathBuf>,
    },
    /// Serve this host's metrics (node_exporter names, page cache, Kafka log dirs) as Prometheus
    /// text on /metrics, for a central kafkascope to scrape. No database, read-only.
    Agent {
        /// Address to listen on (e.g. 0.0.0.0:9101 on a broker host).
        #[arg(long, default_value = "127.0.0.1:9101")]
        listen: String,
        /// Kafka log dir to watch (file-system fill, segment residency); repeat for several.
        #[arg(long = "log-dir", value_name = "DIR")]
        log_dirs: Vec<PathBuf>,
        /// Count page-cache hits and misses with tracefs' function profiler (root).
        #[arg(long)]
        cachestat: bool,
    },
    /// Validate a config file: exit code 0 when valid, 2 with a message naming the key when not.
    CheckConfig { file: PathBuf },
    /// Print the annotated example configuration.
    ExampleConfig,
    /// Benchmark the storage engine with a realistic Kafka-like generator.
    BenchStore {
        /// Active series.
        #[arg(long)]
        series: Option<usize>,
        /// How long to ingest (e.g. 60s).
        #[arg(long, value_parser = parse_duration_arg)]
        duration: Option<Duration>,
        /// Directory for the benchmark database (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Instead of generating data: copy this kafkascope database, compact everything in it and
        /// report the bytes per sample of its real scrapes.
        #[arg(long, value_name = "FILE")]
        from_db: Option<PathBuf>,
        /// With --from-db: the block length to compact with (the server uses 2h).
        #[arg(long, value_parser = parse_duration_arg, default_value = "2h")]
        block: Duration,
        /// Smoke-test sizes (seconds instead of minutes; figures not comparable).
        #[arg(long)]
        quick: bool,
    },
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    config::parse_duration(s)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => {
            match Config::load(&file).and_then(|c| sources::build_all(&c).map(|p| (c, p))) {
                Ok((c, plan)) => {
                    for note in &plan.notes {
                        eprintln!("note: {note}");
                    }
                    println!(
                        "{}: valid ({} cluster{}, {} target{}, listening on {})",
                        file.display(),
                        c.clusters.len(),
                        if c.clusters.len() == 1 { "" } else { "s" },
                        plan.targets.len(),
                        if plan.targets.len() == 1 { "" } else { "s" },
                        c.server.listen
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Agent {
            listen,
            log_dirs,
            cachestat,
        } => {
            let addr: std::net::SocketAddr = match listen.parse() {
                Ok(a) => a,
                Err(e) => {
                    eprintln!(
                        "error: --listen {listen:?}: {e} (expected host:port, e.g. 0.0.0.0:9101)"
                    );
                    return ExitCode::from(2);
                }
            };
            if let Some(d) = log_dirs.iter().find(|d| !d.is_absolute()) {
                eprintln!(
                    "error: --log-dir {:?} must be an absolute path",
                    d.display()
                );
                return ExitCode::from(2);
            }
            init_tracing();
            let config = sources::host::config::HostConfig {
                log_dirs,
                cachestat,
                ..Default::default()
            };
            run_async(kafkascope::agent::run(addr, config))
        }
        Command::ExampleConfig => {
            print!("{}", config::EXAMPLE);
            ExitCode::SUCCESS
        }
        Command::Serve {
            config,
            listen,
            database,
        } => {
            let mut cfg = match &config {
                Some(path) => match Config::load(path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => sources::default_local_config(),
            };
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            if let Some(d) = database {
                cfg.server.database = d;
            }
            if let Err(m) = cfg.server.listen_addr() {
                eprintln!("error: server.listen: {m}");
                return ExitCode::from(2);
            }
            let plan = match sources::build_all(&cfg) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            init_tracing();
            for note in &plan.notes {
                tracing::warn!("{note}");
            }
            run_async(serve(cfg, plan.targets))
        }
        Command::BenchStore {
            from_db: Some(db),
            json,
            block,
            ..
        } => {
            init_tracing();
            run_async(async move {
                let report = kafkascope::bench::store::measure_db(&db, block).await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print!("{}", report.to_text());
                }
                Ok(())
            })
        }
        Command::BenchStore {
            series,
            duration,
            dir,
            json,
            from_db: None,
            quick,
            ..
        } => {
            init_tracing();
            let mut opts = kafkascope::bench::store::BenchOptions::default();
            if let Some(s) = series {
                opts.series = s;
            }
            if let Some(d) = duration {
                opts.duration = d;
            }
            opts.dir = dir;
            opts.quick = quick;
            run_async(async move {
                let report = kafkascope::bench::store::run(opts).await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print!("{}", report.to_text());
                }
                Ok(())
            })
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colours only on a terminal: a log file or journald gets plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Metadata learned from earlier scrapes, so pages have units before the first scrape.
async fn learn_stored_metadata(store: &Store, catalogue: &Catalogue) {
    match store
        .documents("", kafkascope::catalogue::STORE_SUBJECT)
        .await
    {
        Ok(docs) => {
            let metas: Vec<_> = docs
                .iter()
                .filter_map(|(_, _, body)| serde_json::from_str(body).ok())
                .collect();
            catalogue.learn(&metas);
        }
        Err(e) => tracing::warn!(error = %e, "Could not read stored metric metadata."),
    }
}

async fn serve(cfg: Config, targets: Vec<PlannedTarget>) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut store_cfg = StoreConfig::new(&cfg.server.database);
    store_cfg.retention = cfg.storage.retention.clone();
    let store = Store::open(store_cfg)
        .await
        .with_context(|| format!("opening the database {}", cfg.server.database.display()))?;
    let listen = cfg.server.listen_addr().map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen} (server.listen)"))?;
    let bound = listener.local_addr()?;

    let catalogue = sources::catalogue();
    learn_stored_metadata(&store, &catalogue).await;
    let mut collector = Collector::new(
        store.clone(),
        catalogue.clone(),
        cfg.collector.max_backoff.0,
    );
    // Before the first scrape, so tracked attributes are read from the start.
    match web::restore_tracked(&store, &cfg).await {
        Ok(0) => {}
        Ok(n) => info!(attributes = n, "Tracked JMX attributes restored."),
        Err(e) => tracing::warn!(error = %e, "Could not read the tracked JMX attributes."),
    }
    for target in targets {
        collector.spawn_planned(target);
    }
    let targets: TargetRegistry = collector.registry();
    kafkascope::lag::settings::install(
        cfg.lag
            .settings()
            .map_err(|(k, m)| anyhow::anyhow!("lag.{k}: {m}"))?,
    );
    kafkascope::lag::notifier::spawn(&cfg.notifiers, store.clone(), targets.clone());
    kafkascope::lag::recorder::spawn(store.clone(), targets.clone());
    info!(
        targets = targets.snapshot().len(),
        database = %cfg.server.database.display(),
        "Collector started."
    );

    // Printed on stdout so scripts and tests that pass `--listen 127.0.0.1:0` learn the port.
    println!("kafkascope listening on http://{bound}");
    let state = web::AppState {
        store: store.clone(),
        targets,
        config: Arc::new(cfg),
        catalogue,
    };
    web::serve(listener, state, shutdown_signal())
        .await
        .context("web server")?;

    info!("Shutting down: stopping scrapes, flushing the store.");
    collector.shutdown().await;
    store.close().await.context("closing the store")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
