//! The shipped deployment files (`deploy/`), rendered for this machine: `deploy/nginx.conf`
//! with loopback ports in place of the compose service names, checked with `nginx -t`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The repository root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `deploy/nginx.conf` is rendered to listen and proxy on this machine.
#[derive(Debug, Clone)]
pub struct Loopback {
    /// The port the plain-HTTP redirect server listens on.
    pub redirect_port: u16,
    /// The port the API server listens on.
    pub api_port: u16,
    /// The two app instances' ports (compose's `app1:3000`, `app2:3000`).
    pub apps: [u16; 2],
    /// Certificate and key; `None` renders the API server as plain HTTP (same locations).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Renders the shipped nginx configuration for `lb`. Fails when the file no longer has
/// the lines this rendering rewrites, so the two cannot drift apart silently.
pub fn render_nginx(conf: &str, lb: &Loopback) -> anyhow::Result<String> {
    let mut out = String::with_capacity(conf.len());
    let mut seen = [false; 5];
    for line in conf.lines() {
        let trimmed = line.trim();
        let indent = &line[..line.len() - line.trim_start().len()];
        let replaced = match trimmed {
            "server app1:3000 max_fails=3 fail_timeout=10s;" => {
                seen[0] = true;
                Some(format!(
                    "server 127.0.0.1:{} max_fails=3 fail_timeout=10s;",
                    lb.apps[0]
                ))
            }
            "server app2:3000 max_fails=3 fail_timeout=10s;" => {
                seen[1] = true;
                Some(format!(
                    "server 127.0.0.1:{} max_fails=3 fail_timeout=10s;",
                    lb.apps[1]
                ))
            }
            "listen 80;" => {
                seen[2] = true;
                Some(format!("listen 127.0.0.1:{};", lb.redirect_port))
            }
            "listen 443 ssl http2;" => {
                seen[3] = true;
                Some(match lb.tls {
                    Some(_) => format!("listen 127.0.0.1:{} ssl;", lb.api_port),
                    None => format!("listen 127.0.0.1:{};", lb.api_port),
                })
            }
            "listen [::]:80;" | "listen [::]:443 ssl http2;" => Some(String::new()),
            t if t.starts_with("ssl_certificate ") => {
                seen[4] = true;
                lb.tls
                    .as_ref()
                    .map(|(cert, _)| format!("ssl_certificate {};", cert.display()))
            }
            t if t.starts_with("ssl_certificate_key ") => lb
                .tls
                .as_ref()
                .map(|(_, key)| format!("ssl_certificate_key {};", key.display())),
            t if t.starts_with("ssl_") || t.starts_with("add_header Strict-Transport-Security") => {
                if lb.tls.is_some() {
                    None
                } else {
                    Some(String::new())
                }
            }
            _ => None,
        };
        match replaced {
            Some(r) if r.is_empty() => {}
            Some(r) => {
                out.push_str(indent);
                out.push_str(&r);
                out.push('\n');
            }
            None if lb.tls.is_none() && trimmed.starts_with("ssl_certificate") => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if seen.iter().any(|s| !s) {
        bail!(
            "deploy/nginx.conf no longer has the upstream, listen or certificate lines the loopback rendering rewrites"
        );
    }
    Ok(out)
}

/// An installed program: on `PATH`, or in the `sbin` folders a non-root `PATH` may lack.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The nginx binary, when installed.
pub fn nginx_binary() -> Option<PathBuf> {
    find_program("nginx")
}

/// Writes `conf` into `dir` and runs `nginx -t` on it (prefix, pid and error log in `dir`).
pub fn nginx_test(nginx: &Path, dir: &Path, conf: &str) -> anyhow::Result<()> {
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).context("writing the rendered nginx.conf")?;
    let output = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-g")
        .arg(format!("pid {};", dir.join("nginx.pid").display()))
        .output()
        .context("running nginx -t")?;
    if !output.status.success() {
        bail!(
            "nginx -t refused the configuration:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A self-signed certificate for localhost in `dir`, made with openssl when installed.
pub fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    status.status.success().then_some((cert, key))
}

/// `cargo xtask nginx-check`: `deploy/nginx.conf` through `nginx -t`, plain and with TLS.
pub fn check_shipped_config() -> anyhow::Result<()> {
    let nginx = nginx_binary().context("nginx is not installed (apt-get install nginx-light)")?;
    let conf = std::fs::read_to_string(repo_root().join("deploy/nginx.conf"))
        .context("reading deploy/nginx.conf")?;
    let dir = std::env::temp_dir().join(format!("soundshelf-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| {
        let mut lb = Loopback {
            redirect_port: 18080,
            api_port: 18443,
            apps: [13001, 13002],
            tls: None,
        };
        nginx_test(&nginx, &dir, &render_nginx(&conf, &lb)?)?;
        println!("deploy/nginx.conf: plain-HTTP rendering accepted by nginx -t");
        match self_signed(&dir) {
            Some(pair) => {
                lb.tls = Some(pair);
                nginx_test(&nginx, &dir, &render_nginx(&conf, &lb)?)?;
                println!("deploy/nginx.conf: TLS rendering accepted by nginx -t");
            }
            None => println!("openssl is not installed: the TLS rendering was not checked"),
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn shipped_conf() -> String {
        std::fs::read_to_string(repo_root().join("deploy/nginx.conf")).unwrap()
    }

    fn loopback(tls: Option<(PathBuf, PathBuf)>) -> Loopback {
        Loopback {
            redirect_port: 18080,
            api_port: 18443,
            apps: [13001, 13002],
            tls,
        }
    }

    #[test]
    fn rendering_keeps_every_location_and_drops_tls_when_asked() {
        let plain = render_nginx(&shipped_conf(), &loopback(None)).unwrap();
        assert!(plain.contains("server 127.0.0.1:13001 max_fails"));
        assert!(plain.contains("server 127.0.0.1:13002 max_fails"));
        assert!(plain.contains("listen 127.0.0.1:18443;"));
        assert!(!plain.contains("ssl_"), "{plain}");
        assert!(!plain.contains("app1:3000"));
        for location in [
            "location /api/",
            "location /files/",
            "location = /health",
            "@soundshelf_429",
        ] {
            assert!(plain.contains(location), "{location} lost");
        }
        let tls = render_nginx(
            &shipped_conf(),
            &loopback(Some(("/x/cert.pem".into(), "/x/key.pem".into()))),
        )
        .unwrap();
        assert!(tls.contains("listen 127.0.0.1:18443 ssl;"));
        assert!(tls.contains("ssl_certificate /x/cert.pem;"));
        assert!(tls.contains("ssl_certificate_key /x/key.pem;"));
        assert!(tls.contains("ssl_protocols"));
    }

    #[test]
    fn nginx_accepts_the_shipped_config() {
        let Some(nginx) = nginx_binary() else {
            eprintln!(
                "SKIPPED: nginx is not installed here (.ci/run installs it); deploy/nginx.conf was not checked"
            );
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let plain = render_nginx(&shipped_conf(), &loopback(None)).unwrap();
        nginx_test(&nginx, dir.path(), &plain).unwrap();
        match self_signed(dir.path()) {
            Some(pair) => {
                let tls = render_nginx(&shipped_conf(), &loopback(Some(pair))).unwrap();
                nginx_test(&nginx, dir.path(), &tls).unwrap();
            }
            None => {
                eprintln!("openssl is not installed: only the plain-HTTP rendering was checked")
            }
        }
    }

    /// The installed compose client: `docker compose` (v2) or `docker-compose` (v1).
    fn compose_client() -> Option<Vec<&'static str>> {
        let works = |cmd: &[&str]| {
            Command::new(cmd[0])
                .args(&cmd[1..])
                .arg("version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        [vec!["docker", "compose"], vec!["docker-compose"]]
            .into_iter()
            .find(|c| works(c))
    }

    #[test]
    fn compose_parses_the_shipped_file() {
        let Some(client) = compose_client() else {
            soundshelf_store::testing::missing_tool(
                "no compose client (docker compose or docker-compose) is installed; deploy/docker-compose.yml was not parsed",
            );
            return;
        };
        // A copy beside an .env made from the example, as an operator would set it up.
        let dir = tempfile::tempdir().unwrap();
        let deploy = repo_root().join("deploy");
        std::fs::copy(
            deploy.join("docker-compose.yml"),
            dir.path().join("docker-compose.yml"),
        )
        .unwrap();
        std::fs::copy(deploy.join(".env.example"), dir.path().join(".env")).unwrap();
        let output = Command::new(client[0])
            .args(&client[1..])
            .arg("-f")
            .arg(dir.path().join("docker-compose.yml"))
            .args(["config", "-q"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} config refused deploy/docker-compose.yml:\n{}",
            client.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `name=value` lines of `deploy/.env.example`.
    fn env_example() -> Vec<(String, String)> {
        std::fs::read_to_string(repo_root().join("deploy/.env.example"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect()
    }

    #[test]
    fn env_example_names_every_documented_variable() {
        let docs = std::fs::read_to_string(repo_root().join("docs/configuration.md")).unwrap();
        let example: BTreeSet<String> = env_example().into_iter().map(|(k, _)| k).collect();
        let mut documented = BTreeSet::new();
        for row in docs.lines().filter(|l| l.starts_with("| `")) {
            let first = row.split('|').nth(1).unwrap();
            for name in first.split('`').skip(1).step_by(2) {
                if let Some(rest) = name.strip_prefix("PLAN_<PLAN>_") {
                    for plan in ["FREE", "TRIAL", "PREMIUM", "VIP"] {
                        documented.insert(format!("PLAN_{plan}_{rest}"));
                    }
                } else {
                    documented.insert(name.to_owned());
                }
            }
        }
        assert!(
            documented.len() > 30,
            "docs/configuration.md table not found"
        );
        let missing: Vec<_> = documented.difference(&example).collect();
        assert!(missing.is_empty(), "deploy/.env.example lacks {missing:?}");
    }

    #[test]
    fn env_example_with_compose_overrides_is_a_valid_configuration() {
        let mut vars: std::collections::HashMap<String, String> = env_example()
            .into_iter()
            .map(|(k, v)| {
                // Placeholders stand for secrets the operator writes.
                let v = if v.starts_with('<') {
                    "s".repeat(48)
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        // docker-compose.yml's `environment:` wins over the env file.
        let compose =
            std::fs::read_to_string(repo_root().join("deploy/docker-compose.yml")).unwrap();
        for key in [
            "BIND",
            "DB_HOST",
            "DB_PORT",
            "REDIS_URL",
            "TRUSTED_PROXIES",
            "AUTO_MIGRATE",
        ] {
            assert!(
                compose.contains(&format!("    {key}: ")),
                "compose does not set {key}"
            );
        }
        vars.insert("BIND".into(), "0.0.0.0:3000".into());
        let settings = soundshelf_app::config::Settings::from_lookup(|k| vars.get(k).cloned());
        let settings = settings.unwrap_or_else(|e| panic!("deploy/.env.example is refused: {e}"));
        assert!(!settings.auto_migrate);
        assert!(!settings.seed_demo);
    }
}
