//! The embedded default's files: the generated JWT secret and the demo objects of the
//! local storage backend.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;

use crate::config::Settings;

/// The file under `data_dir` holding the generated secret.
pub const JWT_SECRET_FILE: &str = "jwt_secret";

/// The JWT secret: `JWT_SECRET`, or on the embedded default the one kept in
/// `{data_dir}/jwt_secret`, generated (256 random bits, owner-only file) on first use.
pub fn jwt_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let data_dir = &settings.data.data_dir;
    let path = data_dir.join(JWT_SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= crate::config::MIN_JWT_SECRET_BYTES => {
            return Ok(SecretString::from(text.trim().to_owned()));
        }
        Ok(_) => anyhow::bail!(
            "{} is too short; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    write_private(&path, secret.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new JWT secret");
    Ok(SecretString::from(secret))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes every demo object exist in local storage with the size the catalogue states.
/// The files are sparse (zeros), so they cost almost no disk.
pub fn ensure_demo_objects(storage_dir: &Path) -> anyhow::Result<usize> {
    let mut created = 0;
    for asset in soundshelf_store::demo::assets() {
        let path = storage_dir.join(&asset.object_key);
        let size = u64::try_from(asset.file_size).unwrap_or_default();
        if fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let file =
            fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.set_len(size)
            .with_context(|| format!("sizing {}", path.display()))?;
        created += 1;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_generated_secret_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::from_lookup(|_| None).unwrap();
        settings.data.data_dir = dir.path().join("data");
        let first = jwt_secret(&settings).unwrap();
        let again = jwt_secret(&settings).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert!(first.expose_secret().len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(settings.data.data_dir.join(JWT_SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn demo_objects_have_catalogue_sizes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ensure_demo_objects(dir.path()).unwrap(), 36);
        assert_eq!(ensure_demo_objects(dir.path()).unwrap(), 0);
        for a in soundshelf_store::demo::assets() {
            let len = fs::metadata(dir.path().join(&a.object_key)).unwrap().len();
            assert_eq!(len as i64, a.file_size);
        }
    }
}
