//! Who is calling: API tokens and their roles, brand limits, failed-login throttling,
//! dashboard sessions and their form tokens.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::incident::Incident;
use crate::store::{Store, StoreError};

use super::{ApiError, ApiState};

/// Name of the cookie the dashboard keeps its session id in (never the token itself).
pub const SESSION_COOKIE: &str = "tocsin_session";
/// A dashboard session not used for this long ends.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::hours(12);
/// And every session ends this long after its login.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// A session's last use is written at most this often: a page load is not a write.
pub(super) const SESSION_TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// What a token's holder may do. Each role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads incidents, timelines, reviews, feeds, channels, silences and mentions.
    Viewer,
    /// Also works incidents: acknowledges, resolves, reopens, assigns, notes, does steps.
    Responder,
    /// Also silences, enables and disables channels, and pushes mentions.
    Admin,
}

impl Role {
    pub(super) fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }
}

/// One entry of `TOCSIN_API_TOKENS`: the SHA-256 of its secret, its holder, role and the
/// brands it is limited to.
#[derive(Clone)]
pub(super) struct TokenEntry {
    digest: [u8; 32],
    name: String,
    role: Role,
    /// The brands the token is limited to (none: every brand), each with the column
    /// (1-based, in characters) it is written at.
    brand_columns: Vec<(String, usize)>,
}

/// The brands a caller may see and act on: every brand, or only some. An incident of no
/// brand (an install without `[[brand]]`, an industry rule) is seen only by an unlimited one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandScope(Option<Vec<String>>);

impl BrandScope {
    /// A scope of these brands only.
    pub fn only(brands: Vec<String>) -> BrandScope {
        BrandScope(Some(brands))
    }

    /// Whether something of `brand` is within the scope.
    pub fn sees(&self, brand: Option<&str>) -> bool {
        match &self.0 {
            None => true,
            Some(only) => brand.is_some_and(|brand| only.iter().any(|b| b == brand)),
        }
    }

    /// The brands a store query may return, narrowed to `asked` when one is asked for;
    /// `None`: any brand.
    pub fn narrowed(&self, asked: Option<&str>) -> Option<Vec<String>> {
        match (asked, &self.0) {
            (Some(asked), _) if self.sees(Some(asked)) => Some(vec![asked.to_owned()]),
            (Some(_), _) => Some(Vec::new()),
            (None, only) => only.clone(),
        }
    }

    /// The brands of a limited scope.
    pub fn limit(&self) -> Option<&[String]> {
        self.0.as_deref()
    }

    /// Why `actor` may not make or end a silence of `brand` (`None`: of every brand), or
    /// `None` when they may. A silence of every brand holds back every client's incidents,
    /// so only a caller of every brand may make or end one.
    pub fn silence_refusal(&self, actor: &str, brand: Option<&str>) -> Option<String> {
        let allowed = match brand {
            None => self.0.is_none(),
            Some(_) => self.sees(brand),
        };
        (!allowed)
            .then(|| format!("{actor} may silence only the brands {}", self.limit().unwrap_or_default().join(", ")))
    }
}

/// Who a credential belongs to.
#[derive(Debug, Clone)]
pub(super) struct Holder {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) brands: BrandScope,
}

impl TokenEntry {
    pub(super) fn holder(&self) -> Holder {
        let brands = match self.brand_columns.is_empty() {
            true => BrandScope::default(),
            false => BrandScope::only(self.brand_columns.iter().map(|(brand, _)| brand.clone()).collect()),
        };
        Holder { name: self.name.clone(), role: self.role, brands }
    }
}

/// The API tokens, each naming the person or tool it belongs to and its role.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<(&str, &str)> = self.entries.iter().map(|e| (e.name.as_str(), e.role.as_str())).collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "TOCSIN_API_TOKENS entry {0} is not name:token, name:token:role or name:token:role:brand,brand \
     (role viewer, responder or admin)"
)]
pub struct TokensError(pub usize);

/// `secret:role` split at its last `:` when what follows names a role.
pub(super) fn split_role(text: &str) -> Option<(&str, Role)> {
    let (secret, role) = text.rsplit_once(':')?;
    Some((secret, Role::parse(role.trim())?))
}

pub(super) fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Tokens {
    /// Parses `alice:token1:responder,bob:token2:viewer:acme,globex,ops:token3`. The role
    /// is optional and `admin` when left out, so a list written before roles keeps working
    /// as it did; a last `:` segment that names no role is part of the token. After the
    /// role, brands limit what the token sees; a piece with no `:` continues that list.
    pub fn parse(text: &str) -> Result<Tokens, TokensError> {
        let mut entries: Vec<TokenEntry> = Vec::new();
        let mut offset = 0;
        for piece in text.split(',') {
            let column = text[..offset].chars().count() + 1 + (piece.len() - piece.trim_start().len());
            offset += piece.len() + 1;
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            let index = entries.len() + 1;
            let Some((name, rest)) = piece.split_once(':') else {
                // A brand continuing the limit of the entry before.
                match entries.last_mut() {
                    Some(entry) if !entry.brand_columns.is_empty() => {
                        entry.brand_columns.push((piece.to_owned(), column));
                        continue;
                    }
                    _ => return Err(TokensError(index)),
                }
            };
            let (secret, role, first_brand) = if let Some((secret, role)) = split_role(rest) {
                (secret, role, None)
            } else if let Some((head, brand)) = rest.rsplit_once(':')
                && let Some((secret, role)) = split_role(head)
            {
                (secret, role, Some(brand.trim()))
            } else {
                (rest, Role::Admin, None)
            };
            let (name, secret) = (name.trim(), secret.trim());
            if name.is_empty() || secret.is_empty() || first_brand.is_some_and(str::is_empty) {
                return Err(TokensError(index));
            }
            let brand_columns: Vec<(String, usize)> = first_brand
                .map(|brand| {
                    let before = piece.len() - brand.len();
                    (brand.to_owned(), column + piece[..before].chars().count())
                })
                .into_iter()
                .collect();
            entries.push(TokenEntry { digest: digest(secret), name: name.to_owned(), role, brand_columns });
        }
        Ok(Tokens { entries })
    }

    /// Every brand a token is limited to that `known` does not hold: the token's holder,
    /// the brand, and the column it is written at.
    pub fn unknown_brands(&self, known: &[&str]) -> Vec<(&str, &str, usize)> {
        self.entries
            .iter()
            .flat_map(|entry| {
                entry
                    .brand_columns
                    .iter()
                    .filter(|(brand, _)| !known.contains(&brand.as_str()))
                    .map(|(brand, column)| (entry.name.as_str(), brand.as_str(), *column))
            })
            .collect()
    }

    /// The holder and role of the token whose SHA-256 this is (a session's), compared as
    /// [`Tokens::holder_of`] compares.
    pub(super) fn holder_of_digest(&self, presented: &[u8]) -> Option<Holder> {
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.as_slice().ct_eq(presented)) && found.is_none() {
                found = Some(entry);
            }
        }
        found.map(TokenEntry::holder)
    }

    /// The holder and role of a presented secret. Every entry is compared, each in constant
    /// time, so how long this takes says nothing about how close a guess came.
    pub(super) fn holder_of(&self, secret: &str) -> Option<Holder> {
        let presented = digest(secret);
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&presented)) && found.is_none() {
                found = Some(entry);
            }
        }
        found.map(TokenEntry::holder)
    }
}

/// Failed logins a client address may make in [`THROTTLE_WINDOW`] before it is refused.
pub const FAILURES_ALLOWED: u32 = 5;
/// The window failed logins are counted over; a throttled address waits out the rest of it.
pub const THROTTLE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// Failed logins per client address (a wrong token on `/login`, or on the API's bearer
/// header): past [`FAILURES_ALLOWED`] in [`THROTTLE_WINDOW`], every attempt from that
/// address, right or wrong, is answered 429 until the window ends, so guessing tokens costs
/// a quarter hour per five guesses. Counted in memory: a restart forgives.
#[derive(Default)]
pub struct Throttle {
    failures: std::sync::Mutex<std::collections::HashMap<IpAddr, (u32, DateTime<Utc>)>>,
}

impl Throttle {
    /// How long an address must wait before trying again, if it must.
    pub(super) fn wait(&self, address: IpAddr, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let &(count, since) = failures.get(&address)?;
        let ends = since + THROTTLE_WINDOW;
        (count >= FAILURES_ALLOWED && now < ends).then(|| ends - now)
    }

    pub(super) fn failed(&self, address: IpAddr, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Windows past their end are forgotten, so the map holds recent guessers only.
        failures.retain(|_, (_, since)| now < *since + THROTTLE_WINDOW);
        let entry = failures.entry(address).or_insert((0, now));
        entry.0 += 1;
        metrics::counter!("tocsin_login_failures_total").increment(1);
        if entry.0 == FAILURES_ALLOWED {
            tracing::warn!(%address, failures = entry.0, "failed logins from one address: throttled");
        }
    }

    pub(super) fn succeeded(&self, address: IpAddr) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&address);
    }

    /// Authenticates a presented secret from `address` (unknown when the server was not
    /// given connection info), counting failures and refusing a throttled address.
    pub(super) fn check(
        &self,
        tokens: &Tokens,
        secret: &str,
        address: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Holder, Refusal> {
        if let Some(wait) = address.and_then(|a| self.wait(a, now)) {
            metrics::counter!("tocsin_login_throttled_total").increment(1);
            return Err(Refusal::Throttled(wait));
        }
        match tokens.holder_of(secret) {
            Some(holder) => {
                if let Some(address) = address {
                    self.succeeded(address);
                }
                Ok(holder)
            }
            None => {
                if let Some(address) = address {
                    self.failed(address, now);
                }
                Err(Refusal::Unknown)
            }
        }
    }
}

/// Why a presented token was refused.
pub(super) enum Refusal {
    Unknown,
    /// Too many failures from the address: try again after this long.
    Throttled(chrono::Duration),
    /// The store could not be read.
    Failed(StoreError),
}

/// What a request presents to say who it is.
pub(super) enum Credential {
    /// `Authorization: Bearer TOKEN`: a script or another tool.
    Bearer(String),
    /// The dashboard's session cookie: a browser that logged in.
    Session(String),
}

impl Credential {
    pub(super) fn of(headers: &HeaderMap) -> Option<Credential> {
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            return value.strip_prefix("Bearer ").map(|t| Credential::Bearer(t.trim().to_owned()));
        }
        cookie(headers, SESSION_COOKIE).map(|id| Credential::Session(id.to_owned()))
    }

    /// The secret itself, which the dashboard's form tokens are bound to.
    pub(super) fn secret(&self) -> &str {
        match self {
            Credential::Bearer(secret) | Credential::Session(secret) => secret,
        }
    }
}

/// Who presents `credential`: a bearer token through [`Throttle::check`]; a session by its
/// stored row, refused once idle for [`SESSION_IDLE`], older than [`SESSION_LIFETIME`], or
/// when the token that opened it is no longer configured. A stale session is not a
/// failed login: its id was issued, not guessed.
pub(super) async fn authenticate<S: Store>(
    state: &ApiState<S>,
    credential: &Credential,
    address: Option<IpAddr>,
) -> Result<Holder, Refusal> {
    let now = state.clock.now();
    match credential {
        Credential::Bearer(token) => state.throttle.check(&state.tokens, token, address, now),
        Credential::Session(id) => {
            let id_digest = digest(id);
            let session = state.store.session(&id_digest).await.map_err(Refusal::Failed)?.ok_or(Refusal::Unknown)?;
            if now - session.last_seen_at > SESSION_IDLE || now - session.created_at > SESSION_LIFETIME {
                return Err(Refusal::Unknown);
            }
            let holder = state.tokens.holder_of_digest(&session.token_digest).ok_or(Refusal::Unknown)?;
            if now - session.last_seen_at > SESSION_TOUCH_EVERY {
                state.store.touch_session(&id_digest, now).await.map_err(Refusal::Failed)?;
            }
            Ok(holder)
        }
    }
}

/// Opens a dashboard session for a token that logged in: a random id for the cookie,
/// stored only as its SHA-256.
pub(super) async fn open_session<S: Store>(state: &ApiState<S>, token: &str) -> Result<String, StoreError> {
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = state.clock.now();
    state.store.create_session(&digest(&id), &digest(token), now, now - SESSION_LIFETIME).await?;
    Ok(id)
}

/// The client's address, when the server passes connection info.
pub(super) fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
}

/// [`client_address`] as an extractor, for handlers that read the request's body too.
pub(super) struct ClientAddress(pub(super) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

/// Cross-site request forgery tokens for the dashboard's forms: an HMAC of the session's
/// token, so a page from another site, which cannot read the session, cannot forge one. A
/// request authenticated with a bearer header needs none (browsers never add that header
/// on their own).
#[derive(Clone)]
pub struct Csrf {
    key: Arc<Vec<u8>>,
}

impl Csrf {
    pub fn new(key: Vec<u8>) -> Csrf {
        Csrf { key: Arc::new(key) }
    }

    pub(super) fn mac(&self, session: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"csrf:");
        mac.update(session.as_bytes());
        mac
    }

    /// The form token for a session.
    pub fn token_for(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(session).finalize().into_bytes())
    }

    /// Whether a presented form token belongs to the session (compared in constant time).
    pub fn verify(&self, session: &str, presented: &str) -> bool {
        URL_SAFE_NO_PAD.decode(presented.trim()).is_ok_and(|tag| self.mac(session).verify_slice(&tag).is_ok())
    }
}

/// The caller, known by its token's name and role: from `Authorization: Bearer`, or the
/// dashboard's session cookie.
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The brands the token is limited to.
    pub brands: BrandScope,
}

/// Refuses an incident outside the caller's brands, naming the brands it may see.
pub fn brand_refusal(scope: &BrandScope, name: &str, incident: &Incident) -> Option<String> {
    (!scope.sees(incident.brand.as_deref())).then(|| {
        let only = scope.limit().unwrap_or_default().join(", ");
        format!("{name} may see only the brands {only}; incident {} is not one of theirs", incident.id)
    })
}

impl Caller {
    /// Refuses a brand-limited caller an action that reaches every brand.
    pub(super) fn require_every_brand(&self, what: &str) -> Result<(), ApiError> {
        match self.brands.limit() {
            None => Ok(()),
            Some(only) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("{} is limited to the brands {}: {what} reaches every brand", self.name, only.join(", ")),
            )),
        }
    }

    /// The incident, when the caller's brands take it in: 404 when there is none, 403
    /// when it is another brand's.
    pub(super) async fn incident<S: Store>(&self, state: &ApiState<S>, id: i64) -> Result<Incident, ApiError> {
        let incident = state.store.incident(id).await?.ok_or(StoreError::NoIncident(id))?;
        match brand_refusal(&self.brands, &self.name, &incident) {
            Some(message) => Err(ApiError::new(StatusCode::FORBIDDEN, message)),
            None => Ok(incident),
        }
    }

    /// Refuses a caller whose role is below `needed`, saying which role it takes.
    pub(super) fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this needs the {} role; {} is a {}", needed.as_str(), self.name, self.role.as_str()),
            ))
        }
    }
}

/// A caller who may work incidents (see [`Role::Responder`]).
pub struct Responder(pub Caller);

/// A caller who may change what is monitored and delivered (see [`Role::Admin`]).
pub struct Admin(pub Caller);

/// The value of a request cookie.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl<S: Store> FromRequestParts<ApiState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<S>) -> Result<Self, Self::Rejection> {
        let credential = Credential::of(&parts.headers)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer token"))?;
        let checked = authenticate(state, &credential, client_address(parts)).await;
        let holder = checked.map_err(|refusal| match refusal {
            Refusal::Unknown => ApiError::new(StatusCode::UNAUTHORIZED, "unknown API token or ended session"),
            Refusal::Failed(e) => ApiError::from(e),
            Refusal::Throttled(wait) => ApiError {
                retry_after: Some(wait.num_seconds().max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed logins from this address; try again later",
                )
            },
        })?;
        Ok(Caller { name: holder.name, role: holder.role, brands: holder.brands })
    }
}

impl<S: Store> FromRequestParts<ApiState<S>> for Responder {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<S>) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Responder)?;
        Ok(Responder(caller))
    }
}

impl<S: Store> FromRequestParts<ApiState<S>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<S>) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Admin)?;
        Ok(Admin(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_names_and_refuse_malformed_entries() {
        let tokens = Tokens::parse("alice:s3cret, bob:other").expect("valid");
        assert_eq!(tokens.holder_of("s3cret").map(|h| (h.name, h.role)), Some(("alice".to_owned(), Role::Admin)));
        assert_eq!(tokens.holder_of("other").map(|h| (h.name, h.role)), Some(("bob".to_owned(), Role::Admin)));
        assert_eq!(tokens.holder_of("alice").map(|h| (h.name, h.role)), None);
        assert_eq!(Tokens::parse("alice:x,justatoken").unwrap_err(), TokensError(2));
        assert!(!format!("{tokens:?}").contains("s3cret"), "Debug must not print secrets");
        let roles = Tokens::parse("v:t1:viewer,r:t2:responder,a:t3:admin,colon:a:b:c").expect("valid");
        assert_eq!(roles.holder_of("t1").map(|h| (h.name, h.role)), Some(("v".to_owned(), Role::Viewer)));
        assert_eq!(roles.holder_of("t2").map(|h| (h.name, h.role)), Some(("r".to_owned(), Role::Responder)));
        assert_eq!(roles.holder_of("t3").map(|h| (h.name, h.role)), Some(("a".to_owned(), Role::Admin)));
        assert_eq!(
            roles.holder_of("a:b:c").map(|h| (h.name, h.role)),
            Some(("colon".to_owned(), Role::Admin)),
            "a last segment naming no role is token"
        );
        assert_eq!(Tokens::parse("x::viewer").unwrap_err(), TokensError(1), "an empty token with a role");
    }

    #[test]
    fn a_form_token_belongs_to_one_session() {
        let csrf = Csrf::new(b"key".to_vec());
        let token = csrf.token_for("alice-session");
        assert!(csrf.verify("alice-session", &token));
        assert!(!csrf.verify("bob-session", &token));
        assert!(!csrf.verify("alice-session", "forged"));
        assert!(!Csrf::new(b"other".to_vec()).verify("alice-session", &token));
    }
}
