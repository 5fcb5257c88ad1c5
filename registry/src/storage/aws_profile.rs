//! AWS shared configuration profiles for `s3://` storage, which object_store does not read: when
//! no keys are in the environment, the profile named by `AWS_PROFILE` (else `default`) gives the
//! static keys from the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//! `~/.aws/credentials`) and the region from the config file (`AWS_CONFIG_FILE`, else
//! `~/.aws/config`). Profiles that assume roles or use SSO have no static keys: with them, or with
//! no profile at all, the builder keeps object_store's own chain (instance, ECS and web-identity
//! credentials).

use object_store::aws::AmazonS3Builder;
use std::collections::HashMap;
use std::path::PathBuf;

/// The keys of `[section]` in an INI-style AWS file.
pub(super) fn section(text: &str, wanted: &str) -> Option<HashMap<String, String>> {
    let mut current: Option<&str> = None;
    let mut found: Option<HashMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = Some(name.trim());
            if current == Some(wanted) {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if current == Some(wanted)
            && let Some((key, value)) = line.split_once('=')
            && let Some(keys) = found.as_mut()
        {
            keys.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    found
}

fn file(variable: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".aws").join(default)))
}

/// Applies the profile to `builder` unless the environment already gives keys. An `AWS_PROFILE`
/// that names no profile in either file is an error; a missing default profile is not.
pub(super) fn apply(builder: AmazonS3Builder) -> Result<AmazonS3Builder, String> {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        return Ok(builder);
    }
    let named = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|name| !name.is_empty());
    let profile = named.clone().unwrap_or_else(|| "default".to_owned());
    let read = |path: Option<PathBuf>| path.and_then(|path| std::fs::read_to_string(path).ok());
    let credentials = read(file("AWS_SHARED_CREDENTIALS_FILE", "credentials"))
        .and_then(|text| section(&text, &profile));
    // The config file names profiles `[profile NAME]`, except `[default]`.
    let config_section = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let config =
        read(file("AWS_CONFIG_FILE", "config")).and_then(|text| section(&text, &config_section));
    if credentials.is_none() && config.is_none() {
        return match named {
            Some(name) => Err(format!(
                "AWS_PROFILE names `{name}`, which is in neither the credentials nor the config file"
            )),
            None => Ok(builder),
        };
    }
    let mut builder = builder;
    let keys = credentials.unwrap_or_default();
    if let (Some(id), Some(secret)) = (
        keys.get("aws_access_key_id"),
        keys.get("aws_secret_access_key"),
    ) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = keys.get("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    if std::env::var_os("AWS_REGION").is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        && let Some(region) = config.as_ref().and_then(|config| config.get("region"))
    {
        builder = builder.with_region(region);
    }
    if std::env::var_os("AWS_ENDPOINT").is_none()
        && std::env::var_os("AWS_ENDPOINT_URL").is_none()
        && let Some(endpoint) = config
            .as_ref()
            .and_then(|config| config.get("endpoint_url"))
    {
        builder = builder.with_endpoint(endpoint);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::section;

    #[test]
    fn a_section_is_read_with_its_keys_and_nothing_else() {
        let text = "[default]\naws_access_key_id = AKIA1\n# a comment\n[profile ci]\nregion = eu-west-1\n[ci]\nAWS_Access_Key_Id=AKIA2\naws_secret_access_key = s3cr3t \n";
        assert_eq!(
            section(text, "default").unwrap()["aws_access_key_id"],
            "AKIA1"
        );
        assert_eq!(section(text, "profile ci").unwrap()["region"], "eu-west-1");
        let ci = section(text, "ci").unwrap();
        assert_eq!(ci["aws_access_key_id"], "AKIA2");
        assert_eq!(ci["aws_secret_access_key"], "s3cr3t");
        assert_eq!(ci.len(), 2);
        assert!(section(text, "missing").is_none());
        assert!(section("[empty]\n", "empty").is_some_and(|keys| keys.is_empty()));
    }
}
