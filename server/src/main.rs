//! The lexvault relay server's executable: `lexvault-server [serve]` and
//! `lexvault-server init-admin --bundle <file>`.

use std::process::ExitCode;

use lexvault_server::app::{self, AppState, Limits};
use lexvault_server::config::{self, Command, ConfigError, Settings};
use lexvault_server::{admin, serve, telemetry, web};

#[tokio::main]
async fn main() -> ExitCode {
    let (command, settings) = match config::load() {
        Ok(loaded) => loaded,
        Err(ConfigError::Cli(error)) => error.exit(),
        Err(error) => {
            eprintln!("lexvault-server: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(&settings.log) {
        eprintln!("lexvault-server: {error}");
        return ExitCode::from(2);
    }
    match command {
        Command::InitAdmin { bundle } => match admin::init_admin(&settings.data_dir, &bundle) {
            Ok(fingerprint) => {
                println!("administrator set: fingerprint {fingerprint}");
                println!("compare it with `lexvault whoami` on the administrator's machine");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("lexvault-server: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Serve => run(settings).await,
    }
}

async fn run(settings: Settings) -> ExitCode {
    let tls = match settings.tls.as_ref().map(serve::load_tls).transpose() {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("lexvault-server: {error}");
            return ExitCode::from(2);
        }
    };
    let limits = Limits {
        max_upload_bytes: settings.max_upload_bytes,
        request_window_secs: settings.request_window_secs,
        login_attempts_per_hour: settings.login_attempts_per_hour,
    };
    let data_dir = settings.data_dir.clone();
    let state = match tokio::task::spawn_blocking(move || AppState::open(&data_dir, limits)).await {
        Ok(Ok(state)) => state,
        Ok(Err(error)) => {
            eprintln!("lexvault-server: {error}");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("lexvault-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut app = app::router(state);
    if let Some(dir) = &settings.web_dir {
        app = app.merge(web::routes(dir.clone()));
    }
    let app = app.layer(telemetry::http_trace_layer());
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "lexvault-server: cannot listen on {}: {error}; choose another address with \
                 --listen",
                settings.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        address = %settings.listen,
        data_dir = %settings.data_dir.display(),
        "lexvault-server listening on {scheme}://{}",
        settings.listen
    );
    match serve::serve(listener, app, tls, serve::shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
