pub fn run(_t: &str, _f: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> { Ok(std::process::ExitCode::SUCCESS) }
