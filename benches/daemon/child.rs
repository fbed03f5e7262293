//! Fire lateness to the child: a job every second, from the instant to the first thing
//! the run's process does (a probe that reads `CLOCK_REALTIME` and appends it to a
//! file), beside the floor: one thread that sleeps with `clock_nanosleep(TIMER_ABSTIME)`
//! to each whole second and spawns the same probe. Each fire is split into its parts:
//! the timer's wake-up (instant → the fire call), the store's claim (the fire call), the
//! worker's reserve (the fire's end → the reserve that returned the run) and the spawn
//! (that → the probe's clock reading).

use super::*;

/// The probe, compiled by `rustc` when the bench starts: std only, its clock read first.
const PROBE_SOURCE: &str = r#"
use std::io::Write;
fn main() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let path = std::env::args_os().nth(1).expect("the file to append to");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("the probe's file");
    writeln!(file, "{}", now.as_nanos()).expect("written");
}
"#;

/// Compiles the probe into `dir`; its path.
pub fn build_probe(dir: &std::path::Path) -> PathBuf {
    let source = dir.join("probe.rs");
    let probe = dir.join("probe");
    std::fs::write(&source, PROBE_SOURCE).expect("the probe's source");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args(["-O", "-C", "debuginfo=0", "-o"])
        .arg(&probe)
        .arg(&source)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "rustc compiles the probe");
    probe
}

/// The probe's clock readings in `file`, as µs after the whole second before each;
/// keyed by that second.
fn readings(file: &std::path::Path) -> BTreeMap<i64, f64> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().parse::<u128>().ok())
        .map(|ns| {
            let second = (ns / 1_000_000_000) as i64;
            (second, (ns % 1_000_000_000) as f64 / 1e3)
        })
        .collect()
}

/// Sleeps until the whole second `at_s` of the wall clock.
#[allow(unsafe_code)]
fn sleep_until_second(at_s: i64) {
    let at = libc::timespec {
        tv_sec: at_s as libc::time_t,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: `at` is a valid timespec that outlives the call, and `remain` may be
        // null; with TIMER_ABSTIME an interrupted sleep is simply made again.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_REALTIME,
                libc::TIMER_ABSTIME,
                &at,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            break;
        }
    }
}

/// The floor: `fires` whole seconds, each slept to and the probe spawned at; µs late.
pub fn floor(probe: &std::path::Path, dir: &std::path::Path, fires: usize) -> Vec<f64> {
    let file = dir.join("floor.txt");
    let _ = std::fs::remove_file(&file);
    let first = Utc::now().timestamp() + 1;
    for k in 0..fires as i64 {
        sleep_until_second(first + k);
        Command::new(probe)
            .arg(&file)
            .status()
            .expect("the probe runs");
    }
    readings(&file).into_values().collect()
}

/// The worker's containment: `CRONQ_BENCH_CONTAINMENT` (`auto`, as `cronq daemon`
/// has it by default, or `subreaper` or `cgroup`).
fn containment() -> cronq::settings::Containment {
    use cronq::settings::Containment;
    match std::env::var("CRONQ_BENCH_CONTAINMENT").as_deref() {
        Ok("subreaper") => Containment::Subreaper,
        Ok("cgroup") => Containment::Cgroup,
        _ => Containment::Auto,
    }
}

/// One fire of the daemon, each part in µs.
#[derive(Clone, Copy, Default)]
pub struct Parts {
    /// The instant → the child's clock reading.
    pub total: f64,
    /// The instant → the fire call began.
    pub wake: f64,
    /// The fire call.
    pub claim: f64,
    /// The fire's end → the reserve that returned the run ended.
    pub reserve: f64,
    /// That → the child's clock reading.
    pub spawn: f64,
}

/// A daemon with its built-in worker and one job every second running the probe: each
/// of `fires` fires, in parts.
pub async fn daemon_fires(
    stores: &Stores,
    backend: Backend,
    probe_exe: &std::path::Path,
    fires: usize,
) -> Vec<Parts> {
    let file = stores.dir.join(format!("child-{}.txt", backend.name()));
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "jobs:\n  probe:\n    schedule: \"* * * * * *\"\n    command: [{:?}, {:?}]\n",
        probe_exe.display().to_string(),
        file.display().to_string()
    );
    let schedule = cronq::schedule::load(&text, "bench.yaml", Tz::UTC).expect("a valid schedule");
    let (store, probe) = stores.open("child", backend).await;
    let mut config = daemon_config();
    config.workers = vec![WorkerConfig {
        id: format!("bench:{}:child", std::process::id()),
        host: "bench".into(),
        queues: vec![schedule.jobs[0].queue.clone()],
        concurrency: 8,
        lease: LEASE,
        stop_grace: Duration::from_secs(10),
        cronq_bin: env!("CARGO_BIN_EXE_cronq").into(),
        state_dir: stores.dir.join("state-child"),
        containment: containment(),
    }];
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(daemon::run(
        Arc::clone(&store),
        schedule,
        config,
        stop.clone(),
        Arc::new(Notify::new()),
    ));
    // The first two seconds warm up: the daemon's start, the worker's first reserve.
    let first = Utc::now().timestamp() + 2;
    let counted = || {
        readings(&file)
            .range(first..)
            .take(fires)
            .map(|(&second, &late)| (second, late))
            .collect::<Vec<_>>()
    };
    wait_until("the probe's fires", || counted().len() >= fires).await;
    stop.cancel();
    daemon.await.expect("the daemon task").expect("the daemon");

    let fired = probe.fires.lock().expect("fires").clone();
    let reserved = probe.reserved.lock().expect("reserves").clone();
    counted()
        .into_iter()
        .map(|(second, total)| {
            let instant = DateTime::from_timestamp(second, 0).expect("an instant");
            let child = instant + TimeDelta::nanoseconds((total * 1e3) as i64);
            let us = |a: DateTime<Utc>, b: DateTime<Utc>| lateness_ms(a, b) * 1e3;
            let Some(fire) = fired.iter().find(|f| f.instant == instant) else {
                return Parts {
                    total,
                    ..Parts::default()
                };
            };
            let taken = reserved
                .iter()
                .find(|(scheduled, _)| *scheduled == Some(instant))
                .map_or(fire.returned, |(_, at)| *at);
            Parts {
                total,
                wake: us(fire.called, instant),
                claim: us(fire.returned, fire.called),
                reserve: us(taken, fire.returned),
                spawn: us(child, taken),
            }
        })
        .collect()
}

/// Prints the section: the floor beside each backend, and each backend's parts.
pub fn section(
    sizes: &Sizes,
    stores: &Stores,
    backends: &[Backend],
    runtime: &tokio::runtime::Runtime,
) {
    let fires = sizes.child_fires;
    println!();
    println!(
        "fire lateness to the child's first instruction, a job every second, {fires} fires, built-in worker (containment {}); the floor: clock_nanosleep(TIMER_ABSTIME) + spawn of the same probe, measured just before",
        containment()
    );
    println!("target: p50 within 0.5 ms of the floor's, p99 within 1.2x the floor's (µs below)");
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "backend",
        "p50",
        "p99",
        "max",
        "floor p50",
        "floor p99",
        "p50-floor",
        "p99/floor",
        "wake p50",
        "claim p50",
        "reserve p50",
        "spawn p50"
    );
    let probe = build_probe(&stores.dir);
    let mut notes = Vec::new();
    for &backend in backends {
        let floor = sorted(&floor(&probe, &stores.dir, fires));
        let parts = runtime.block_on(daemon_fires(stores, backend, &probe, fires));
        let part = |pick: fn(&Parts) -> f64| sorted(&parts.iter().map(pick).collect::<Vec<_>>());
        let total = part(|p| p.total);
        let (p50, p99) = (percentile(&total, 0.5), percentile(&total, 0.99));
        let (f50, f99) = (percentile(&floor, 0.5), percentile(&floor, 0.99));
        let (wake, claim, reserve, spawn) = (
            part(|p| p.wake),
            part(|p| p.claim),
            part(|p| p.reserve),
            part(|p| p.spawn),
        );
        println!(
            "{:<8} {:>9.0} {:>9.0} {:>9.0} {:>11.0} {:>11.0} {:>9.0} {:>9.2} {:>10.0} {:>10.0} {:>10.0} {:>10.0}",
            backend.name(),
            p50,
            p99,
            total.last().copied().unwrap_or(f64::NAN),
            f50,
            f99,
            p50 - f50,
            p99 / f99,
            percentile(&wake, 0.5),
            percentile(&claim, 0.5),
            percentile(&reserve, 0.5),
            percentile(&spawn, 0.5),
        );
        let p = |s: &[f64]| {
            format!(
                "p50 {:.0}, p90 {:.0}, p99 {:.0}",
                percentile(s, 0.5),
                percentile(s, 0.9),
                percentile(s, 0.99)
            )
        };
        notes.push(format!(
            "  {}: wake {}; claim {}; reserve {}; spawn {} (µs); floor {}",
            backend.name(),
            p(&wake),
            p(&claim),
            p(&reserve),
            p(&spawn),
            p(&floor)
        ));
    }
    for note in notes {
        println!("{note}");
    }
}
