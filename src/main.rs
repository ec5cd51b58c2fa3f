//! The `tocsin` command: parse arguments, load config, call the library, map errors to exit
//! codes (0 ok, 1 user error, 2 internal error).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use chrono::{SecondsFormat, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tocsin::analyze::risk::RiskWeights;
use tocsin::analyze::{self, RuleSet};
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::{Config, HumanDuration};
use tocsin::incident::Action;
use tocsin::incident::playbook::Playbooks;
use tocsin::incident::review::Review;
use tocsin::incident::silence::{NewSilence, Scope};
use tocsin::incident::timeline;
use tocsin::ingest::Mention;
use tocsin::notify::breaker::Availability;
use tocsin::pipeline::Pipeline;
use tocsin::store::{self, Entry, IncidentFilter, Store};
use tocsin::{daemon, demo, replay};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(name = "tocsin", version, about = "Reputation and crisis early-warning monitor")]
struct Cli {
    /// Configuration file.
    #[arg(short, long, global = true, default_value = "tocsin.toml")]
    config: PathBuf,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: migrate, poll, analyze, escalate, deliver, serve HTTP.
    Run,
    /// Validate the config and the rules; every error as file:line:col.
    Check,
    /// Run the examples embedded in rule files.
    Test {
        /// Rules folder (default: the configured one, else the bundled packs).
        dir: Option<PathBuf>,
    },
    /// Analyze one text (or `-` for standard input) and print JSON.
    Score {
        text: Option<String>,
        /// Score each line of standard input on its own, one JSON object per line.
        #[arg(long)]
        lines: bool,
        /// The language to read the text in (`en`, `zh`, ...), as a feed's `lang` would say;
        /// detected from the text when absent.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Work on incidents from a terminal.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Work with one feed.
    Feed {
        #[command(subcommand)]
        command: FeedCommand,
    },
    /// Per-feed health: last success, last error, consecutive failures, next poll, items seen.
    Feeds,
    /// Backtest: run saved mentions (JSONL) or feed files through the pipeline on a
    /// simulated clock and list the incidents that would have opened.
    Replay {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Keep the results in this SQLite file, or the database a `postgres://` or
        /// `sqlite://` URL names (open it with the dashboard); a scratch SQLite file otherwise.
        #[arg(long)]
        db: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Time-bounded silences: matching mentions are stored and scored but open nothing.
    Silence {
        #[command(subcommand)]
        command: SilenceCommand,
    },
    /// Channel health: breakers, and channels disabled after 410 Gone or by hand.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Rehearse: open a clearly marked simulated incident through the real chain (alerts
    /// say DRILL), to run the playbook and review it like a real one.
    Drill {
        /// The rule to drill (its first matching example is the simulated mention); the most
        /// severe rule by default.
        #[arg(long)]
        rule: Option<String>,
        /// The brand to drill (its `[[brand]]` name); the first client brand by default.
        #[arg(long)]
        brand: Option<String>,
    },
    /// Print the report of a period (舆情日报/周报): mentions and sentiment by source and
    /// language, the top stories, what rose, and the incidents with how fast they were answered.
    Digest {
        /// `24h` (a daily report), `7d` (weekly) or `30d`.
        #[arg(long, default_value = "24h")]
        period: String,
        /// Only this brand (its `[[brand]]` name); every brand by default.
        #[arg(long)]
        brand: Option<String>,
        /// The report's language: `en` or `zh`.
        #[arg(long, default_value = "en")]
        lang: String,
        /// `text`, or `json` for the figures themselves.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Offline demo: a scripted crisis on a loopback feed server, monitored end to end.
    Demo {
        /// How many times faster than real time the scenario (and escalation delays) runs.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Exit when the scenario is over instead of keeping the dashboard up.
        #[arg(long)]
        once: bool,
        /// Folder for the demo's database and mailbox.
        #[arg(long, default_value = "tocsin-demo")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum FeedCommand {
    /// Parse a feed file or URL as the poller would (same fetch, charset and recovery) and
    /// print what it makes of it as JSON.
    Parse { file_or_url: String },
}

#[derive(Subcommand)]
enum IncidentCommand {
    /// List incidents, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        /// Only this brand's incidents (its `[[brand]]` name).
        #[arg(long)]
        brand: Option<String>,
    },
    /// Show an incident with its timeline.
    Show {
        id: i64,
    },
    /// Check the timeline's hash chain; exit 1 naming the first altered event.
    Verify {
        id: i64,
    },
    /// Acknowledge: stops escalation.
    Ack {
        id: i64,
    },
    Resolve {
        id: i64,
    },
    Reopen {
        id: i64,
    },
    /// Give the incident an owner.
    Assign {
        id: i64,
        who: String,
    },
    /// Add a note to the timeline.
    Note {
        id: i64,
        text: String,
    },
    /// Send a written status update to the incident's channels (the running daemon's
    /// outbox delivers it) and put it on the timeline.
    Update {
        id: i64,
        text: String,
    },
    /// Mark a playbook step done (see `incident show` for the step ids).
    Step {
        id: i64,
        step: String,
        /// What was done (where the statement was published, ...).
        #[arg(long)]
        note: Option<String>,
    },
    /// The post-incident review.
    Export {
        id: i64,
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Md,
    Html,
    Json,
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Every configured channel with its failures, breaker and whether it is disabled.
    List,
    /// Send a channel's notices to the fallback until it is enabled again.
    Disable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Take a channel back into use (after fixing a 410 Gone endpoint), breaker closed.
    Enable { name: String },
}

#[derive(Subcommand)]
enum SilenceCommand {
    /// Silence one rule, feed, feed tag or query for a while.
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["rule", "feed", "tag", "query"])))]
    Add {
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        feed: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// A query in the rule language.
        #[arg(long)]
        query: Option<String>,
        /// How long, like `2h` or `30m`.
        #[arg(long = "for")]
        duration: String,
        /// Why (shown on the timeline of every incident it touches).
        #[arg(long)]
        reason: String,
        /// Hold back only this brand's incidents (its `[[brand]]` name).
        #[arg(long)]
        brand: Option<String>,
    },
    /// Silences in force (all of them with --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// End a silence now.
    End { id: i64 },
}

/// An error with its exit code: 1 for something the user can fix, 2 for ours.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn user(error: impl Into<anyhow::Error>) -> Failure {
    Failure { code: 1, error: error.into() }
}

/// Environment variable whose database URL replaces `[store] url`.
const DATABASE_URL_ENV: &str = "TOCSIN_DATABASE_URL";

fn internal(error: impl Into<anyhow::Error>) -> Failure {
    Failure { code: 2, error: error.into() }
}

fn main() -> ExitCode {
    // A mistyped command line is the user's to fix: exit 1 (clap's own default is 2, which
    // the SPEC keeps for our errors). Help and version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    init_logs(cli.log_format);
    if matches!(cli.command, Command::Demo { .. }) {
        demo::prepare_environment();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOCSIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour codes are for a person at a terminal; in a file or journald they are noise.
    // NO_COLOR (https://no-color.org): present and not empty turns colour off.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run => run(&cli.config).await,
        Command::Check => check(&cli.config),
        Command::Test { dir } => test_rules(&cli.config, dir.as_deref()),
        Command::Score { text, lines, lang } => score(&cli.config, text, lines, lang.as_deref()),
        Command::Incident { command } => incident(&cli.config, command).await,
        Command::Feeds => feeds(&cli.config).await,
        Command::Replay { files, db, json } => replay(&cli.config, &files, db.as_deref(), json).await,
        Command::Feed { command: FeedCommand::Parse { file_or_url } } => feed_parse(&cli.config, &file_or_url).await,
        Command::Migrate => {
            let config = load_config(&cli.config)?;
            let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
            store.migrate().await.map_err(internal)?;
            println!("migrations applied to {}", store::redact(config.store.url.get_ref()));
            if let Some(brand) = config.adopting_brand()
                && store.adopt_unbranded(brand).await.map_err(internal)?
            {
                println!("what was stored before [[brand]] is now filed under brand {brand}");
            }
            Ok(())
        }
        Command::Silence { command } => silence(&cli.config, command).await,
        Command::Drill { rule, brand } => drill(&cli.config, rule.as_deref(), brand.as_deref()).await,
        Command::Channel { command } => channel(&cli.config, command).await,
        Command::Digest { period, brand, lang, format } => {
            digest(&cli.config, &period, brand.as_deref(), &lang, &format).await
        }
        Command::Demo { speed, once, dir } => {
            if !(speed.is_finite() && speed > 0.0) {
                return Err(user(anyhow!("--speed must be a positive number")));
            }
            demo::run(demo::DemoOptions { speed, once, dir }).await.map_err(internal)
        }
    }
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    let mut config = Config::load(path).map_err(|errors| {
        let text = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        user(anyhow!("{text}"))
    })?;
    // The environment's URL wins, so a database password can stay out of the config file.
    if let Some(url) = std::env::var(DATABASE_URL_ENV).ok().filter(|url| !url.trim().is_empty()) {
        config.store.url = toml::Spanned::new(0..0, url);
    }
    Ok(config)
}

/// The config if the file exists; commands that work without one get the defaults.
fn optional_config(path: &Path) -> Result<Option<Config>, Failure> {
    if path.exists() { load_config(path).map(Some) } else { Ok(None) }
}

/// The configured rules, or the bundled packs when the configured folder does not exist.
fn load_rules(dir: &Path) -> Result<RuleSet, Failure> {
    if !dir.exists() {
        tracing::info!(dir = %dir.display(), "rules folder not found; using the bundled rule packs");
        return Ok(RuleSet::bundled());
    }
    RuleSet::load_dir(dir).map_err(|errors| user(anyhow!("{errors}")))
}

/// The playbooks of the rules folder, or the bundled ones.
fn load_playbooks(rules_dir: &Path) -> Result<Playbooks, Failure> {
    Playbooks::for_rules_dir(rules_dir).map_err(|errors| user(anyhow!("{errors}")))
}

/// Everything a daemon runs on, read and checked together so that a reload takes all of it
/// or none.
struct Setup {
    /// The config file as read, to tell a rules-only reload from a config change.
    text: String,
    config: Config,
    rules: std::sync::Arc<RuleSet>,
    playbooks: Playbooks,
}

fn load_setup(config_path: &Path) -> Result<Setup, Failure> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))
        .map_err(user)?;
    let config = load_config(config_path)?;
    let rules = load_rules(&config.rules.dir)?.into();
    let playbooks = load_playbooks(&config.rules.dir)?;
    Ok(Setup { text, config, rules, playbooks })
}

async fn start_daemon(setup: &Setup) -> Result<daemon::RunningDaemon, Failure> {
    let tokens = Tokens::parse(&std::env::var("TOCSIN_API_TOKENS").unwrap_or_default()).map_err(user)?;
    if let Some(problem) = token_brand_problems(&tokens, &setup.config).into_iter().next() {
        return Err(user(anyhow!("{problem}")));
    }
    let running =
        daemon::start(setup.config.clone(), setup.rules.clone(), Clock::default(), tokens).await.map_err(user)?;
    running.pipeline.replace_playbooks(setup.playbooks.clone());
    Ok(running)
}

/// Reads the config, rules and playbooks again (SIGHUP, or the admin API), and returns the
/// daemon that runs from then on. A bad edit must not take monitoring down: what runs stays
/// until a good whole loads.
async fn reload(
    config_path: &Path,
    setup: &mut Setup,
    running: daemon::RunningDaemon,
) -> Result<daemon::RunningDaemon, Failure> {
    match load_setup(config_path) {
        Err(Failure { error, .. }) => {
            tracing::error!(error = %format!("{error:#}"), "reload refused; the running config and rules stay");
            Ok(running)
        }
        // Rules and lists only: swapped under the running daemon, nothing stops.
        Ok(next) if next.text == setup.text => {
            tracing::info!(
                rules = next.rules.rules().len(),
                playbooks = next.playbooks.iter().count(),
                "rules reloaded"
            );
            if let Err(error) = running.pipeline.replace_rules(next.rules.clone()) {
                tracing::error!(%error, "reload refused; the running rules stay");
                return Ok(running);
            }
            running.pipeline.replace_playbooks(next.playbooks.clone());
            *setup = next;
            Ok(running)
        }
        // The config changed: the daemon restarts in this process on the new one, so
        // feeds, channels, policies and settings all follow it. Shutting down first
        // finishes in-flight polls and deliveries; queued notices wait in the store.
        Ok(next) => {
            running.shutdown().await;
            match start_daemon(&next).await {
                Ok(restarted) => {
                    tracing::info!(
                        feeds = next.config.feeds.len(),
                        channels = next.config.channels.len(),
                        rules = next.rules.rules().len(),
                        "config reloaded"
                    );
                    *setup = next;
                    Ok(restarted)
                }
                Err(Failure { error, .. }) => {
                    tracing::error!(error = %format!("{error:#}"), "reload refused: the new config does not start; back on the running one");
                    start_daemon(setup).await
                }
            }
        }
    }
}

async fn run(config_path: &Path) -> Result<(), Failure> {
    let mut setup = load_setup(config_path)?;
    let mut running = start_daemon(&setup).await?;
    let mut term = signal(SignalKind::terminate()).map_err(internal)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(internal)?;
    loop {
        let reload_requested = running.reload_requested.clone();
        tokio::select! {
            _ = term.recv() => break,
            result = tokio::signal::ctrl_c() => { result.map_err(internal)?; break }
            _ = hangup.recv() => running = reload(config_path, &mut setup, running).await?,
            // An admin's `POST /api/v1/reload`: the same as SIGHUP.
            () = reload_requested.notified() => running = reload(config_path, &mut setup, running).await?,
        }
    }
    tracing::info!("shutting down: finishing in-flight work");
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Each brand a token of `TOCSIN_API_TOKENS` is limited to that the config does not
/// define, as `TOCSIN_API_TOKENS:1:col: message`.
fn token_brand_problems(tokens: &Tokens, config: &Config) -> Vec<String> {
    let known: Vec<&str> = config.brands.iter().map(|b| b.name.get_ref().as_str()).collect();
    tokens
        .unknown_brands(&known)
        .into_iter()
        .map(|(holder, brand, column)| {
            format!("TOCSIN_API_TOKENS:1:{column}: the token of {holder} is limited to brand {brand:?}, which no [[brand]] defines")
        })
        .collect()
}

/// A brand with no names in a config whose rules name `@brand`: the rules would match
/// nothing of it.
fn nameless_brand_problems(config: &Config, rules: &RuleSet) -> Vec<String> {
    let Some(rule) = rules.rules().iter().find(|rule| rule.names_list(analyze::rules::BRAND_LIST)) else {
        return Vec::new();
    };
    config
        .brands
        .iter()
        .filter(|brand| brand.names().is_empty())
        .map(|brand| {
            let message = format!(
                "brand {:?} has no `names`, but rule {:?} ({}) names @brand, so it would match nothing of it",
                brand.name.get_ref(),
                rule.id,
                rule.file
            );
            brand.place.error(message).to_string()
        })
        .collect()
}

fn check(config_path: &Path) -> Result<(), Failure> {
    let mut problems = Vec::new();
    let config = match Config::load(config_path) {
        Ok(config) => Some(config),
        Err(errors) => {
            problems.extend(errors.iter().map(ToString::to_string));
            None
        }
    };
    let rules_dir = config.as_ref().map(|config| config.rules.dir.clone());
    if let Some(config) = &config {
        match Tokens::parse(&std::env::var("TOCSIN_API_TOKENS").unwrap_or_default()) {
            Ok(tokens) => problems.extend(token_brand_problems(&tokens, config)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let (mut rule_count, mut playbook_count) = (0, 0);
    if let Some(dir) = &rules_dir {
        let rules = if dir.exists() {
            match RuleSet::load_dir(dir) {
                Ok(rules) => Some(rules),
                Err(errors) => {
                    problems.extend(errors.0.iter().map(ToString::to_string));
                    None
                }
            }
        } else {
            println!("note: rules folder {} not found; the bundled rule packs will be used", dir.display());
            Some(RuleSet::bundled())
        };
        match Playbooks::for_rules_dir(dir) {
            Ok(playbooks) => {
                playbook_count = playbooks.iter().count();
                if let Some(rules) = &rules {
                    problems.extend(playbooks.check_rules(rules));
                }
            }
            Err(errors) => problems.extend(errors.0.iter().map(ToString::to_string)),
        }
        if let (Some(config), Some(rules)) = (&config, &rules) {
            problems.extend(nameless_brand_problems(config, rules));
            if let Err(e) = config.brand_rules(rules) {
                problems
                    .push(format!("{}: the rules do not compile with the brands' names: {e}", config_path.display()));
            }
        }
        rule_count = rules.map_or(0, |rules| rules.rules().len());
    }
    if problems.is_empty() {
        println!("{}: ok ({rule_count} rules, {playbook_count} playbooks)", config_path.display());
        Ok(())
    } else {
        Err(user(anyhow!("{} problem(s):\n{}", problems.len(), problems.join("\n"))))
    }
}

fn rules_for(config_path: &Path, dir: Option<&Path>) -> Result<RuleSet, Failure> {
    match (dir, optional_config(config_path)?) {
        (Some(dir), _) => RuleSet::load_dir(dir).map_err(|errors| user(anyhow!("{errors}"))),
        (None, Some(config)) => load_rules(&config.rules.dir),
        (None, None) => Ok(RuleSet::bundled()),
    }
}

fn test_rules(config_path: &Path, dir: Option<&Path>) -> Result<(), Failure> {
    let rules = rules_for(config_path, dir)?;
    let outcomes = rules.run_examples();
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    for outcome in &outcomes {
        let verdict = if outcome.passed { "ok  " } else { "FAIL" };
        let expected = if outcome.expected { "match" } else { "no match" };
        println!("{verdict} {} example {}: expected {expected}: {}", outcome.rule, outcome.index + 1, outcome.text);
    }
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    if failed > 0 { Err(user(anyhow!("{failed} rule example(s) failed"))) } else { Ok(()) }
}

fn score_json(
    rules: &RuleSet,
    brands: Option<&analyze::Brands>,
    weights: &RiskWeights,
    text: &str,
    lang: Option<&str>,
) -> serde_json::Value {
    let now = Utc::now();
    let mention = Mention {
        feed: "cli".into(),
        guid: String::new(),
        title: String::new(),
        body: text.to_owned(),
        author: None,
        url: None,
        published: None,
        fetched_at: now,
        lang: lang.map(str::to_owned),
        engagement: None,
    };
    let scored = analyze::analyze_brands(rules, brands, mention, weights, 1.0);
    let mut json = serde_json::json!({
        "lang": scored.lang,
        "sentiment": scored.sentiment,
        "matches": scored.matches,
        "risk": { "score": scored.risk, "breakdown": scored.breakdown },
    });
    if brands.is_some() {
        json["brands"] = serde_json::json!(scored.brands);
    }
    json
}

fn score(config_path: &Path, text: Option<String>, lines: bool, lang: Option<&str>) -> Result<(), Failure> {
    let rules = rules_for(config_path, None)?;
    let config = optional_config(config_path)?;
    let weights = config.as_ref().map(|c| *c.risk.weights.get_ref()).unwrap_or_default();
    let brands = match &config {
        Some(config) => config.brand_rules(&rules).map_err(user)?,
        None => None,
    };
    if lines {
        // One buffered writer: a batch of a million lines must not flush a million times.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for line in std::io::stdin().lock().lines() {
            let line = line.context("cannot read standard input").map_err(user)?;
            writeln!(out, "{}", score_json(&rules, brands.as_ref(), &weights, &line, lang))
                .context("cannot write the scores")
                .map_err(user)?;
        }
        out.flush().context("cannot write the scores").map_err(user)?;
        return Ok(());
    }
    let text = match text.as_deref() {
        None | Some("-") => {
            let mut buffer = String::new();
            std::io::stdin().read_to_string(&mut buffer).context("cannot read standard input").map_err(user)?;
            buffer
        }
        Some(text) => text.to_owned(),
    };
    let output =
        serde_json::to_string_pretty(&score_json(&rules, brands.as_ref(), &weights, &text, lang)).map_err(internal)?;
    println!("{output}");
    Ok(())
}

async fn replay(config_path: &Path, files: &[PathBuf], db: Option<&str>, json: bool) -> Result<(), Failure> {
    let config = match optional_config(config_path)? {
        Some(config) => config,
        None => Config::parse("(defaults)", "").map_err(|errors| internal(anyhow!("{errors:?}")))?,
    };
    let rules = rules_for(config_path, None)?;
    let history = replay::load(files).map_err(user)?;
    let is_url = |db: &str| ["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| db.starts_with(scheme));
    let (db_url, scratch) = match db {
        Some(db) if is_url(db) => (db.to_owned(), None),
        Some(path) => (format!("sqlite://{path}"), None),
        None => {
            let name = format!("tocsin-replay-{}-{}.db", std::process::id(), Utc::now().timestamp_micros());
            let path = std::env::temp_dir().join(name);
            (format!("sqlite://{}", path.display()), Some(path))
        }
    };
    let undated = history.undated;
    let bar = ProgressBar::new(history.mentions.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} mentions, {per_sec}, eta {eta}")
            .map_err(|e| internal(anyhow!("{e}")))?,
    );
    if json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let report = replay::run(config, rules, history, &db_url, |done| bar.set_position(done as u64)).await;
    bar.finish_and_clear();
    if let Some(path) = scratch {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    let report = report.map_err(internal)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(internal)?);
        return Ok(());
    }
    println!(
        "{} mentions replayed{}",
        report.mentions,
        if undated > 0 { format!(", {undated} undated feed items skipped") } else { String::new() }
    );
    if report.incidents.is_empty() {
        println!("no incident would have opened");
    }
    for i in &report.incidents {
        let detect = i.time_to_detect_s.map_or("?".to_owned(), |s| {
            humantime::format_duration(std::time::Duration::from_secs(s.unsigned_abs())).to_string()
        });
        println!(
            "{}  {:<9} {:<24} detected after {:<10} {:>5} mention(s)  {}",
            i.opened_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            i.level.as_str(),
            i.group,
            detect,
            i.mentions,
            i.title
        );
    }
    if let Some(db) = db {
        println!("results kept in {}", store::redact(db));
    }
    Ok(())
}

/// Who a terminal action is attributed to on the timeline.
fn cli_actor() -> String {
    let who = std::env::var("TOCSIN_ACTOR").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

async fn incident(config_path: &Path, command: IncidentCommand) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
    store.migrate().await.map_err(internal)?;
    let (id, action) = match command {
        IncidentCommand::List { status, brand } => {
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(
                    tocsin::incident::Status::parse(text)
                        .ok_or_else(|| user(anyhow!("status {text:?} is not open, acknowledged or resolved")))?,
                ),
            };
            let incidents = store
                .incidents(&IncidentFilter {
                    status,
                    limit: 500,
                    brands: brand.map(|b| vec![b]),
                    ..IncidentFilter::default()
                })
                .await
                .map_err(internal)?;
            for incident in incidents {
                println!(
                    "#{:<5} {:<12} {:<8} {:>3} {:<20} {}{}",
                    incident.id,
                    incident.status.as_str(),
                    incident.level.as_str(),
                    incident.score,
                    incident.rule,
                    incident.brand.as_deref().map(|brand| format!("{brand:<12} ")).unwrap_or_default(),
                    incident.title
                );
            }
            return Ok(());
        }
        IncidentCommand::Show { id } => {
            let incident =
                store.incident(id).await.map_err(internal)?.ok_or_else(|| user(anyhow!("no incident {id}")))?;
            let events = store.timeline(id).await.map_err(internal)?;
            let checklist = store.checklist(id).await.map_err(internal)?;
            let verified = timeline::verify(&events).is_ok();
            let output = serde_json::json!({
                "incident": incident, "checklist": checklist, "timeline": events, "timeline_verified": verified,
            });
            println!("{}", serde_json::to_string_pretty(&output).map_err(internal)?);
            return Ok(());
        }
        IncidentCommand::Verify { id } => {
            store.incident(id).await.map_err(internal)?.ok_or_else(|| user(anyhow!("no incident {id}")))?;
            let events = store.timeline(id).await.map_err(internal)?;
            return match timeline::verify(&events) {
                Ok(intact) => {
                    let scheme = match intact.reserialized {
                        0 => "each hashed over its stored bytes".to_owned(),
                        n if n == intact.events => {
                            "all written before the store kept their bytes, checked over their JSON serialized again"
                                .to_owned()
                        }
                        n => format!(
                            "the first {n} written before the store kept their bytes and checked over their JSON serialized again, the rest over their stored bytes"
                        ),
                    };
                    println!("incident {id}: {} timeline events, hash chain intact ({scheme})", intact.events);
                    Ok(())
                }
                Err(broken) => Err(user(anyhow!(
                    "incident {id}: the timeline was altered at event {} ({} at {} by {}): {}",
                    broken.event.id,
                    broken.event.kind,
                    broken.event.stored.at,
                    broken.event.actor,
                    broken.why.describe()
                ))),
            };
        }
        IncidentCommand::Export { id, format, output } => {
            let input = store.review_input(id).await.map_err(store_failure)?;
            let review = Review::build(input, Utc::now());
            let text = match format {
                ExportFormat::Md => review.to_markdown(),
                ExportFormat::Html => review.to_html(),
                ExportFormat::Json => review.to_json().map_err(internal)?,
            };
            return match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(user),
                None => {
                    print!("{text}");
                    Ok(())
                }
            };
        }
        IncidentCommand::Assign { id, who } => return record(&store, id, Entry::Assign(who)).await,
        IncidentCommand::Note { id, text } => return record(&store, id, Entry::Note(text)).await,
        IncidentCommand::Update { id, text } => return record(&store, id, Entry::StatusUpdate(text)).await,
        IncidentCommand::Step { id, step, note } => return record(&store, id, Entry::StepDone { step, note }).await,
        IncidentCommand::Ack { id } => (id, Action::Acknowledge),
        IncidentCommand::Resolve { id } => (id, Action::Resolve),
        IncidentCommand::Reopen { id } => (id, Action::Reopen),
    };
    let incident = store.transition(id, action, &cli_actor(), Utc::now()).await.map_err(store_failure)?;
    println!("incident {} is {}", incident.id, incident.status.as_str());
    Ok(())
}

/// A store error as the user sees it: theirs to fix (an unknown id, a refused action), or ours.
fn store_failure(error: store::StoreError) -> Failure {
    match error {
        store::StoreError::NoIncident(_)
        | store::StoreError::NoSilence(_)
        | store::StoreError::Transition(_)
        | store::StoreError::Refused(_) => user(error),
        other => internal(other),
    }
}

async fn record(store: &impl Store, id: i64, entry: Entry) -> Result<(), Failure> {
    let what = match &entry {
        Entry::Assign(who) => format!("assigned to {}", who.trim()),
        Entry::Note(_) => "note added".to_owned(),
        Entry::StatusUpdate(_) => "status update queued for its channels".to_owned(),
        Entry::StepDone { step, .. } => format!("step {step} done"),
    };
    store.record(id, &entry, &cli_actor(), Utc::now()).await.map_err(store_failure)?;
    println!("incident {id}: {what}");
    Ok(())
}

async fn silence(config_path: &Path, command: SilenceCommand) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
    store.migrate().await.map_err(internal)?;
    let now = Utc::now();
    let silences = match command {
        SilenceCommand::Add { rule, feed, tag, query, duration, reason, brand } => {
            if let Some(brand) = &brand
                && (config.brand(brand).is_none())
            {
                return Err(user(anyhow!("no [[brand]] named {brand:?} in {}", config_path.display())));
            }
            let (scope, value) = match (rule, feed, tag, query) {
                (Some(rule), ..) => (Scope::Rule, rule),
                (_, Some(feed), ..) => (Scope::Feed, feed),
                (_, _, Some(tag), _) => (Scope::Tag, tag),
                (_, _, _, Some(query)) => (Scope::Query, query),
                (None, None, None, None) => {
                    return Err(user(anyhow!("say what to silence: --rule, --feed, --tag or --query")));
                }
            };
            let length: HumanDuration = duration.parse().map_err(|e: String| user(anyhow!("--for: {e}")))?;
            let new = NewSilence {
                scope,
                value: value.trim().to_owned(),
                reason: reason.trim().to_owned(),
                created_by: cli_actor(),
                created_at: now,
                ends_at: now + length.chrono(),
                brand,
            };
            let rules = load_rules(&config.rules.dir)?;
            let tags: Vec<&str> = config.feeds.iter().flat_map(|f| f.tags.iter().map(String::as_str)).collect();
            new.check(&rules, &tags).map_err(|e| user(anyhow!(e)))?;
            vec![store.add_silence(&new).await.map_err(store_failure)?]
        }
        SilenceCommand::List { all } => store.silences((!all).then_some(now)).await.map_err(internal)?,
        SilenceCommand::End { id } => vec![store.end_silence(id, &cli_actor(), now).await.map_err(store_failure)?],
    };
    for silence in silences {
        let state = if silence.is_active(now) { "active" } else { "over" };
        println!(
            "#{:<4} {:<6} {:<7} {:<24} until {}  held {:>4}  by {}: {}",
            silence.id,
            state,
            silence.scope.as_str(),
            silence.value,
            silence.ended_at.unwrap_or(silence.ends_at).format("%Y-%m-%d %H:%M UTC"),
            silence.held,
            silence.created_by,
            silence.reason
        );
    }
    Ok(())
}

async fn channel(config_path: &Path, command: ChannelCommand) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
    store.migrate().await.map_err(internal)?;
    let now = Utc::now();
    let known = |name: &str| -> Result<(), Failure> {
        if config.channels.iter().any(|c| c.name.get_ref() == name) {
            Ok(())
        } else {
            Err(user(anyhow!("no channel named {name:?} in {}", config_path.display())))
        }
    };
    let healths = match command {
        ChannelCommand::List => {
            let mut healths = Vec::new();
            for channel in &config.channels {
                healths.push(store.channel_health(channel.name.get_ref()).await.map_err(internal)?);
            }
            healths
        }
        ChannelCommand::Disable { name, reason } => {
            known(&name)?;
            let reason = format!("disabled by {}: {}", cli_actor(), reason.trim());
            vec![store.set_channel_enabled(&name, false, &reason, now).await.map_err(internal)?]
        }
        ChannelCommand::Enable { name } => {
            known(&name)?;
            vec![store.set_channel_enabled(&name, true, "", now).await.map_err(internal)?]
        }
    };
    for health in healths {
        let state = match health.availability(now) {
            Availability::Up => "up".to_owned(),
            Availability::Tripped { until } => format!("breaker open until {}", until.format("%Y-%m-%d %H:%M:%S UTC")),
            Availability::Disabled { reason } => format!("disabled: {reason}"),
        };
        println!("{:<20} {:>3} failures in a row  {state}", health.name, health.failures);
    }
    Ok(())
}

async fn digest(
    config_path: &Path,
    period: &str,
    brand: Option<&str>,
    lang: &str,
    format: &str,
) -> Result<(), Failure> {
    let lang = match lang {
        "en" => tocsin::lang::Lang::En,
        "zh" => tocsin::lang::Lang::Zh,
        other => return Err(user(anyhow!("--lang {other:?} is not en or zh"))),
    };
    if !["text", "json"].contains(&format) {
        return Err(user(anyhow!("--format {format:?} is not text or json")));
    }
    let config = load_config(config_path)?;
    if let Some(name) = brand
        && config.brand(name).is_none()
    {
        return Err(user(anyhow!("no [[brand]] named {name:?} in {}", config_path.display())));
    }
    let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
    store.migrate().await.map_err(internal)?;
    let window = config.risk.spike().window;
    let report = tocsin::digest::build(&store, period, brand, window, Utc::now()).await.map_err(|e| match e {
        tocsin::digest::DigestError::Period(_) => user(e),
        tocsin::digest::DigestError::Store(_) => internal(e),
    })?;
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&report).map_err(internal)?),
        _ => print!("{}", report.to_text(lang)),
    }
    Ok(())
}

async fn drill(config_path: &Path, rule: Option<&str>, brand: Option<&str>) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let specs = config.brand_specs();
    let brand = match brand {
        Some(name) => Some(
            specs
                .iter()
                .find(|spec| spec.name == name && !spec.competitor)
                .ok_or_else(|| user(anyhow!("no client [[brand]] named {name:?} to drill")))?
                .clone(),
        ),
        None => specs.iter().find(|spec| !spec.competitor).cloned(),
    };
    let store = std::sync::Arc::new(store::open(config.store.url.get_ref()).await.map_err(user)?);
    store.migrate().await.map_err(internal)?;
    let rules = std::sync::Arc::new(load_rules(&config.rules.dir)?);
    let playbooks = Playbooks::for_rules_dir(&config.rules.dir).map_err(|errors| user(anyhow!("{errors}")))?;
    let pipeline = Pipeline::new(
        store,
        rules.clone(),
        std::sync::Arc::new(config),
        Clock::default(),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    )
    .map_err(user)?;
    pipeline.replace_playbooks(playbooks);
    let drilled =
        tocsin::drill::run(&pipeline, &rules, rule, brand.as_ref(), Utc::now()).await.map_err(|e| match e {
            tocsin::drill::DrillError::Store(e) => internal(e),
            other => user(other),
        })?;
    println!(
        "drill incident {} opened for rule {}: its alerts say DRILL and are delivered by the running daemon; \
         review it with `tocsin incident export {}`",
        drilled.incident_id, drilled.rule, drilled.incident_id
    );
    Ok(())
}

async fn feeds(config_path: &Path) -> Result<(), Failure> {
    let config = load_config(config_path)?;
    let store = store::open(config.store.url.get_ref()).await.map_err(user)?;
    store.migrate().await.map_err(internal)?;
    // Feeds configured since the daemon last started are listed too, as never polled.
    let configured: Vec<(String, String)> =
        config.feeds.iter().map(|f| (f.name.get_ref().clone(), f.url.get_ref().clone())).collect();
    store.sync_feeds(&configured).await.map_err(internal)?;
    // Feeds removed from the config keep their rows (and their items' dedup) but are not listed.
    let states: Vec<_> = store
        .feed_states()
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|state| configured.iter().any(|(name, _)| *name == state.name))
        .collect();
    let time =
        |t: Option<chrono::DateTime<Utc>>| t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    println!("{:<24} {:<19} {:<19} {:>5} {:>7}  last error", "feed", "last success", "next poll", "fails", "items");
    for state in states {
        println!(
            "{:<24} {:<19} {:<19} {:>5} {:>7}  {}",
            state.name,
            time(state.last_success_at),
            time(state.next_poll_at),
            state.consecutive_failures,
            state.items_seen,
            state.last_error.as_deref().unwrap_or("-")
        );
        for problem in &state.problems {
            println!("{:<24} recovered from: {problem}", "");
        }
    }
    Ok(())
}

async fn feed_parse(config_path: &Path, file_or_url: &str) -> Result<(), Failure> {
    use tocsin::ingest::fetch::{self, FetchLimits, FetchOutcome, Validators};
    use tocsin::ingest::parse;
    let now = Utc::now();
    let report = if file_or_url.starts_with("http://") || file_or_url.starts_with("https://") {
        let poll = optional_config(config_path)?.map(|c| c.poll).unwrap_or_default();
        let limits =
            FetchLimits { timeout: poll.timeout.0, max_bytes: poll.max_bytes.0, max_redirects: poll.max_redirects };
        fetch::install_crypto_provider();
        let client = fetch::build_client(&daemon::user_agent(), &limits).map_err(internal)?;
        match fetch::fetch(&client, file_or_url, &Validators::default(), &limits).await.map_err(user)? {
            FetchOutcome::Fetched { body, content_type, final_url, .. } => {
                parse::parse_report(&body, content_type.as_deref(), Some(&final_url), now).map_err(user)?
            }
            FetchOutcome::NotModified => {
                return Err(user(anyhow!("the server answered 304 Not Modified to a plain GET")));
            }
        }
    } else {
        let bytes = std::fs::read(file_or_url).with_context(|| format!("cannot read {file_or_url}")).map_err(user)?;
        parse::parse_report(&bytes, None, None, now).map_err(user)?
    };
    println!("{}", serde_json::to_string_pretty(&report).map_err(internal)?);
    Ok(())
}
