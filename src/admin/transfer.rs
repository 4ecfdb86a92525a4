//! `export` and `import`: a directory (the single-tenant one, or a
//! tenant's) as a file of SCIM JSON lines, and back, on either store.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use super::{Error, aws_if_needed};
use crate::config::Config;
use crate::service::{Exported, Imported, Service};
use crate::tenant::{Tenant, TenantId};

#[derive(Debug, Args)]
pub struct Export {
    /// The file to write: one resource a line, users then groups (`-`:
    /// standard output). Written beside, then renamed, so that a file of
    /// that name is always a whole export.
    file: PathBuf,
    /// A tenant's directory instead of the single-tenant one.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

#[derive(Debug, Args)]
pub struct Import {
    /// A file `export` wrote (`-`: standard input). Ids, times and versions
    /// are kept. Run again after a stop: resources already there are
    /// passed over, so it goes on where it stopped.
    file: PathBuf,
    /// A tenant's directory instead of the single-tenant one.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

/// The directory's service. To export, an embedded store must exist
/// already (a wrong SCIM_DB_PATH would otherwise export an empty
/// directory); an import makes a new one.
async fn service(
    config: &Config,
    tenant: Option<TenantId>,
    must_exist: bool,
) -> Result<Service, Error> {
    let embedded = config.table_name.is_none();
    if must_exist && embedded && !config.db_path.exists() {
        return Err(format!(
            "{} does not exist (SCIM_DB_PATH); make it with create-table first",
            config.db_path.display()
        )
        .into());
    }
    let aws = aws_if_needed(config).await;
    let table = crate::open_table(config, aws.as_ref())
        .await
        .map_err(|e| match embedded {
            true => {
                format!("{e} (the embedded store admits one process: stop the local server first)")
            }
            false => e,
        })?;
    let service = crate::service(config, table, crate::schemas(config)?);
    Ok(service.for_tenant(&tenant.map_or(Tenant::Default, Tenant::Named)))
}

/// A progress line on the terminal, at most every half second; nothing
/// when standard error is not a terminal.
struct Progress {
    on: bool,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            last: Instant::now(),
        }
    }

    fn show(&mut self, line: impl FnOnce() -> String) {
        if self.on && self.last.elapsed() >= Duration::from_millis(500) {
            self.last = Instant::now();
            eprint!("\r{}", line());
        }
    }

    fn end(&self) {
        if self.on {
            eprint!("\r\x1b[K");
        }
    }
}

fn counts(e: &Exported) -> String {
    format!(
        "users {}, groups {}, memberships {}",
        e.users, e.groups, e.members
    )
}

impl Export {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        let service = service(config, self.tenant, true).await?;
        let mut progress = Progress::new();
        let to_stdout = self.file == Path::new("-");
        let partial = {
            let mut name = self.file.clone().into_os_string();
            name.push(".partial");
            PathBuf::from(name)
        };
        let mut out: Box<dyn Write> = match to_stdout {
            true => Box::new(std::io::stdout().lock()),
            false => Box::new(std::io::BufWriter::new(
                private_file(&partial)
                    .map_err(|e| format!("cannot create {}: {e}", partial.display()))?,
            )),
        };
        let mut write = |v: &serde_json::Value| {
            serde_json::to_writer(&mut out, v)?;
            out.write_all(b"\n")
        };
        let done = service
            .export(&mut write, &mut |e| progress.show(|| counts(e)))
            .await?;
        out.flush()?;
        drop(out);
        progress.end();
        if !to_stdout {
            std::fs::rename(&partial, &self.file)
                .map_err(|e| format!("cannot rename to {}: {e}", self.file.display()))?;
        }
        eprintln!("exported {}", counts(&done));
        Ok(())
    }
}

/// A new file only its owner may read: an export holds names and e-mails.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// What an import did, line by line.
#[derive(Default)]
struct Tally {
    created: usize,
    present: usize,
    /// Further lines of a group that takes several.
    continued: usize,
    members: usize,
    refused: usize,
}

impl Import {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        let service = service(config, self.tenant, false).await?;
        let input: Box<dyn BufRead> = match self.file == Path::new("-") {
            true => Box::new(std::io::stdin().lock()),
            false => Box::new(std::io::BufReader::new(
                std::fs::File::open(&self.file)
                    .map_err(|e| format!("cannot open {}: {e}", self.file.display()))?,
            )),
        };
        let (mut tally, mut progress) = (Tally::default(), Progress::new());
        let mut previous: Option<String> = None;
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|e| format!("reading line {} failed: {e}", n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&line);
            let id = parsed
                .as_ref()
                .ok()
                .and_then(|v| v["id"].as_str())
                .map(str::to_string);
            // The next line of the same group carries more of its members.
            let continues = id.is_some() && id == previous;
            previous = id;
            let outcome = match parsed {
                Ok(v) => service.import_line(&v).await,
                Err(e) => Err(crate::scim::ScimError::invalid_syntax(e.to_string())),
            };
            match outcome {
                Ok(Imported::Created { members } | Imported::Present { members }) if continues => {
                    (tally.continued, tally.members) =
                        (tally.continued + 1, tally.members + members)
                }
                Ok(Imported::Created { members }) => {
                    (tally.created, tally.members) = (tally.created + 1, tally.members + members)
                }
                Ok(Imported::Present { members }) => {
                    (tally.present, tally.members) = (tally.present + 1, tally.members + members)
                }
                // A store that stopped answering stops the import; it goes
                // on from here when run again.
                Err(e) if e.status >= 500 => {
                    progress.end();
                    return Err(format!(
                        "line {} could not be written ({}); run import again to go on",
                        n + 1,
                        e.detail
                    )
                    .into());
                }
                Err(e) => {
                    progress.end();
                    eprintln!("line {}: refused: {}", n + 1, e.detail);
                    tally.refused += 1;
                }
            }
            progress.show(|| format!("line {}: {} new", n + 1, tally.created));
        }
        progress.end();
        eprintln!(
            "imported: {} new, {} there already, {} memberships written, {} lines refused, {} further lines of groups",
            tally.created, tally.present, tally.members, tally.refused, tally.continued
        );
        match tally.refused {
            0 => Ok(()),
            n => Err(format!("{n} lines were refused (see above); the rest is loaded").into()),
        }
    }
}
