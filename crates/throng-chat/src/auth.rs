//! Identity: `--auth off` (anyone picks a free name) or `--auth token` (`hello` carries a
//! JWT whose `sub` is the user's name).
//!
//! In token mode the server verifies the token with one key, fixed at start:
//!
//! - `--auth-hs256-secret-file PATH`: HS256 with a shared secret, the file's bytes less
//!   trailing newlines (at least 32 bytes, as RFC 7518 asks of an HS256 key). The secret
//!   never goes on the command line, where `ps` shows it.
//! - `--auth-public-key PATH`: a PEM public key (`-----BEGIN PUBLIC KEY-----`); an
//!   Ed25519 key accepts EdDSA tokens, an RSA key RS256 tokens.
//!
//! Only that key's algorithm is accepted (a token signed with another algorithm, such as
//! HS256 "signed" with the public key, is refused). Claims:
//!
//! - `exp` (required): refused once past, with [`EXP_LEEWAY_SECS`] of leeway for clock
//!   skew; `nbf`, when present, likewise.
//! - `sub` (required): the user name; it must pass the name rules
//!   ([`crate::protocol::valid_name`]).
//! - `rooms` (optional): an array of room names the user may join; without it, any room.
//! - `aud` and `iss` are not checked: give this server a key of its own.
//!
//! Every failure is a [`VerifyError`]; the `hello` handler answers it with `unauthorized`
//! and close 1008. Bad configuration is an [`AuthConfigError`], found when the server is
//! built (before it serves anything).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::protocol::valid_name;

/// Seconds a token is still accepted after its `exp` (and before its `nbf`), for clock
/// skew between the token issuer and this server.
pub const EXP_LEEWAY_SECS: u64 = 30;

/// Fewest bytes an HS256 secret may have (the hash's size, RFC 7518 §3.2).
pub const MIN_HS256_SECRET: usize = 32;

/// How clients prove who they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// `hello` names the user; anyone may take any free name (the local demo).
    #[default]
    Off,
    /// `hello` carries a signed JWT; its `sub` is the name (a public deployment).
    Token,
}

/// The identity flags.
#[derive(Debug, Clone, Default, Args)]
pub struct AuthArgs {
    /// How clients prove who they are: `off` (any free name; for the local demo) or
    /// `token` (a signed JWT in `hello`; use this for a public deployment).
    #[arg(long = "auth", env = "THRONG_CHAT_AUTH", value_enum, default_value_t = AuthMode::Off)]
    pub mode: AuthMode,

    /// With `--auth token`: a file holding the HS256 shared secret (at least 32 bytes;
    /// trailing newlines are not part of it).
    #[arg(long, env = "THRONG_CHAT_AUTH_HS256_SECRET_FILE")]
    pub auth_hs256_secret_file: Option<PathBuf>,

    /// With `--auth token`: a PEM public key (Ed25519 for EdDSA tokens, RSA for RS256).
    #[arg(long, env = "THRONG_CHAT_AUTH_PUBLIC_KEY")]
    pub auth_public_key: Option<PathBuf>,
}

/// Why the identity flags cannot work. Rules: `--auth token` needs exactly one of
/// `--auth-hs256-secret-file` and `--auth-public-key`; `--auth off` takes neither; the
/// file must be readable; a secret holds at least [`MIN_HS256_SECRET`] bytes; a public
/// key is a PEM Ed25519 or RSA public key.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// `--auth token` without a key.
    NoKey,
    /// Both key flags.
    TwoKeys,
    /// A key flag with `--auth off`, which would silently accept anyone.
    KeyWithoutTokenMode,
    /// The key file cannot be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The secret is shorter than [`MIN_HS256_SECRET`] bytes.
    SecretTooShort { path: PathBuf, len: usize },
    /// The file is not a PEM Ed25519 or RSA public key.
    BadPublicKey { path: PathBuf, why: String },
}

impl fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKey => f.write_str(
                "--auth token needs a key: --auth-hs256-secret-file PATH or --auth-public-key PATH",
            ),
            Self::TwoKeys => f.write_str(
                "give only one of --auth-hs256-secret-file and --auth-public-key",
            ),
            Self::KeyWithoutTokenMode => f.write_str(
                "an --auth-* key is set but --auth is off (anyone could take any name); add --auth token",
            ),
            Self::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            Self::SecretTooShort { path, len } => write!(
                f,
                "the HS256 secret in {} has {len} bytes; use at least {MIN_HS256_SECRET} (e.g. openssl rand -hex 32)",
                path.display()
            ),
            Self::BadPublicKey { path, why } => write!(
                f,
                "{} is not a PEM Ed25519 or RSA public key: {why}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for AuthConfigError {}

/// Why a token was refused. Every variant is answered `unauthorized`, close 1008.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// `hello` carried no `token`.
    Missing,
    /// Past its `exp` (plus the leeway), or before its `nbf`.
    Expired,
    /// Signed with an algorithm other than the configured key's.
    WrongAlgorithm,
    /// The signature does not match.
    BadSignature,
    /// `sub` is not a valid user name.
    BadSubject,
    /// `rooms` holds something that is not a room name.
    BadRooms,
    /// Not a JWT, or a required claim (`exp`, `sub`) missing or malformed.
    Malformed(String),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("hello needs a token"),
            Self::Expired => f.write_str("token expired"),
            Self::WrongAlgorithm => f.write_str("token algorithm not accepted"),
            Self::BadSignature => f.write_str("token signature invalid"),
            Self::BadSubject => {
                f.write_str("token sub is not a valid name (1 to 32 of A-Z a-z 0-9 _ - .)")
            }
            Self::BadRooms => f.write_str("token rooms must be an array of room names"),
            Self::Malformed(why) => write!(f, "token invalid: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Who a verified token says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name (`sub`).
    pub name: String,
    /// The rooms the user may join (`rooms`); `None`: any.
    pub rooms: Option<Arc<BTreeSet<String>>>,
}

impl Identity {
    /// Whether this user may join `room`.
    pub fn may_join(&self, room: &str) -> bool {
        self.rooms.as_ref().is_none_or(|r| r.contains(room))
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    rooms: Option<Vec<String>>,
}

/// Checks tokens against the configured key.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive() // never the key
    }
}

impl AuthArgs {
    /// The verifier these flags ask for: `None` with `--auth off`.
    ///
    /// # Errors
    ///
    /// Any rule of [`AuthConfigError`] broken.
    pub fn verifier(&self) -> Result<Option<Verifier>, AuthConfigError> {
        let secret = self.auth_hs256_secret_file.as_deref();
        let public = self.auth_public_key.as_deref();
        match (self.mode, secret, public) {
            (AuthMode::Off, None, None) => Ok(None),
            (AuthMode::Off, _, _) => Err(AuthConfigError::KeyWithoutTokenMode),
            (AuthMode::Token, Some(_), Some(_)) => Err(AuthConfigError::TwoKeys),
            (AuthMode::Token, None, None) => Err(AuthConfigError::NoKey),
            (AuthMode::Token, Some(path), None) => Verifier::hs256_file(path).map(Some),
            (AuthMode::Token, None, Some(path)) => Verifier::public_key_file(path).map(Some),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    std::fs::read(path).map_err(|error| AuthConfigError::Read {
        path: path.to_owned(),
        error,
    })
}

impl Verifier {
    /// HS256 with the secret in `path` (its bytes less trailing `\r` and `\n`).
    ///
    /// # Errors
    ///
    /// The file cannot be read, or holds fewer than [`MIN_HS256_SECRET`] bytes.
    pub fn hs256_file(path: &Path) -> Result<Self, AuthConfigError> {
        let mut secret = read(path)?;
        while secret.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            secret.pop();
        }
        if secret.len() < MIN_HS256_SECRET {
            return Err(AuthConfigError::SecretTooShort {
                path: path.to_owned(),
                len: secret.len(),
            });
        }
        let key = DecodingKey::from_secret(&secret).map_err(|e| AuthConfigError::BadPublicKey {
            path: path.to_owned(),
            why: e.to_string(),
        })?;
        Ok(Self::new(key, Algorithm::HS256))
    }

    /// EdDSA or RS256 with the PEM public key in `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is a private key, or is not a PEM Ed25519 or RSA public
    /// key.
    pub fn public_key_file(path: &Path) -> Result<Self, AuthConfigError> {
        let pem = read(path)?;
        let bad = |why: &str| AuthConfigError::BadPublicKey {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        if pem.windows(11).any(|w| w == b"PRIVATE KEY") {
            return Err(bad(
                "it is a private key; give the server only the public key (openssl pkey -pubout)",
            ));
        }
        if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
            return Ok(Self::new(key, Algorithm::EdDSA));
        }
        match DecodingKey::from_rsa_pem(&pem) {
            Ok(key) => Ok(Self::new(key, Algorithm::RS256)),
            Err(e) => Err(bad(&e.to_string())),
        }
    }

    fn new(key: DecodingKey, alg: Algorithm) -> Self {
        let mut validation = Validation::new(alg);
        validation.leeway = EXP_LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key, validation }
    }

    /// The one algorithm this verifier accepts.
    pub fn algorithm(&self) -> Algorithm {
        self.validation.algorithms[0]
    }

    /// Checks `token` and returns who it names.
    ///
    /// # Errors
    ///
    /// See [`VerifyError`].
    pub fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => VerifyError::Expired,
                ErrorKind::InvalidAlgorithm => VerifyError::WrongAlgorithm,
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::MissingRequiredClaim(c) => {
                    VerifyError::Malformed(format!("missing claim `{c}`"))
                }
                _ => VerifyError::Malformed(e.to_string()),
            },
        )?;
        let Claims { sub, rooms } = data.claims;
        if !valid_name(&sub) {
            return Err(VerifyError::BadSubject);
        }
        let rooms = match rooms {
            None => None,
            Some(rooms) if rooms.iter().all(|r| valid_name(r)) => {
                Some(Arc::new(rooms.into_iter().collect()))
            }
            Some(_) => return Err(VerifyError::BadRooms),
        };
        Ok(Identity { name: sub, rooms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mode: AuthMode, secret: Option<&str>, public: Option<&str>) -> AuthArgs {
        AuthArgs {
            mode,
            auth_hs256_secret_file: secret.map(PathBuf::from),
            auth_public_key: public.map(PathBuf::from),
        }
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn token_mode_needs_exactly_one_key_and_off_mode_none() {
        assert!(matches!(
            args(AuthMode::Off, None, None).verifier(),
            Ok(None)
        ));
        assert!(matches!(
            args(AuthMode::Token, None, None).verifier(),
            Err(AuthConfigError::NoKey)
        ));
        let (s, p) = (fixture("hs256.secret"), fixture("ed25519-public.pem"));
        assert!(matches!(
            args(AuthMode::Token, Some(&s), Some(&p)).verifier(),
            Err(AuthConfigError::TwoKeys)
        ));
        assert!(matches!(
            args(AuthMode::Off, None, Some(&p)).verifier(),
            Err(AuthConfigError::KeyWithoutTokenMode)
        ));
    }

    #[test]
    fn key_files_must_exist_and_parse() {
        let missing = args(AuthMode::Token, Some("/nonexistent/secret"), None).verifier();
        assert!(matches!(missing, Err(AuthConfigError::Read { .. })));
        let v = args(AuthMode::Token, Some(&fixture("hs256.secret")), None)
            .verifier()
            .unwrap()
            .unwrap();
        assert_eq!(v.algorithm(), Algorithm::HS256);
        let v = args(AuthMode::Token, None, Some(&fixture("ed25519-public.pem")))
            .verifier()
            .unwrap()
            .unwrap();
        assert_eq!(v.algorithm(), Algorithm::EdDSA);
        let v = args(AuthMode::Token, None, Some(&fixture("rsa-public.pem")))
            .verifier()
            .unwrap()
            .unwrap();
        assert_eq!(v.algorithm(), Algorithm::RS256);
        // A private key, or something that is no key at all.
        for bad in [fixture("ed25519-private.pem"), fixture("hs256.secret")] {
            let e = args(AuthMode::Token, None, Some(&bad))
                .verifier()
                .unwrap_err();
            assert!(
                matches!(e, AuthConfigError::BadPublicKey { .. }),
                "{bad}: {e}"
            );
        }
        // A secret too short to be safe (the PEM's first line is not 32 bytes, but the
        // public key file is: use a real short one).
        let dir = std::env::temp_dir().join(format!("throng-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short.secret");
        std::fs::write(&short, "too-short\n").unwrap();
        let e = args(AuthMode::Token, Some(short.to_str().unwrap()), None)
            .verifier()
            .unwrap_err();
        assert!(
            matches!(e, AuthConfigError::SecretTooShort { len: 9, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("at least 32"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
