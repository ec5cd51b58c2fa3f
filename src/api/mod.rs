//! HTTP: health, metrics, the JSON API under `/api/v1`, acknowledge links and the dashboard.

mod dashboard;
mod dashboard_mentions;
mod quality;
mod summary;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::clock::Clock;
use crate::config::HumanDuration;
use crate::daemon::Pipeline;
use crate::incident::ack_link::AckLinks;
use crate::incident::review::Review;
use crate::incident::silence::{NewSilence, Scope, Silence};
use crate::incident::timeline::Event;
use crate::incident::{Action, Incident, Level, Status};
use crate::ingest::push::PushBody;
use crate::notify::breaker::{Availability, ChannelHealth};
use crate::store::{
    Checklist, Entry, FeedState, IncidentFilter, IngestOutcome, MentionFilter, Store, StoreError, StoredMention,
};

/// Name of the cookie the dashboard keeps its session id in (never the token itself).
pub const SESSION_COOKIE: &str = "tocsin_session";
/// A dashboard session not used for this long ends.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::hours(12);
/// And every session ends this long after its login.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// A session's last use is written at most this often: a page load is not a write.
const SESSION_TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

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
    fn parse(text: &str) -> Option<Role> {
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
struct TokenEntry {
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
struct Holder {
    name: String,
    role: Role,
    brands: BrandScope,
}

impl TokenEntry {
    fn holder(&self) -> Holder {
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
fn split_role(text: &str) -> Option<(&str, Role)> {
    let (secret, role) = text.rsplit_once(':')?;
    Some((secret, Role::parse(role.trim())?))
}

fn digest(secret: &str) -> [u8; 32] {
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
    fn holder_of_digest(&self, presented: &[u8]) -> Option<Holder> {
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
    fn holder_of(&self, secret: &str) -> Option<Holder> {
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
    fn wait(&self, address: IpAddr, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let &(count, since) = failures.get(&address)?;
        let ends = since + THROTTLE_WINDOW;
        (count >= FAILURES_ALLOWED && now < ends).then(|| ends - now)
    }

    fn failed(&self, address: IpAddr, now: DateTime<Utc>) {
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

    fn succeeded(&self, address: IpAddr) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&address);
    }

    /// Authenticates a presented secret from `address` (unknown when the server was not
    /// given connection info), counting failures and refusing a throttled address.
    fn check(
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
enum Refusal {
    Unknown,
    /// Too many failures from the address: try again after this long.
    Throttled(chrono::Duration),
    /// The store could not be read.
    Failed(StoreError),
}

/// What a request presents to say who it is.
enum Credential {
    /// `Authorization: Bearer TOKEN`: a script or another tool.
    Bearer(String),
    /// The dashboard's session cookie: a browser that logged in.
    Session(String),
}

impl Credential {
    fn of(headers: &HeaderMap) -> Option<Credential> {
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            return value.strip_prefix("Bearer ").map(|t| Credential::Bearer(t.trim().to_owned()));
        }
        cookie(headers, SESSION_COOKIE).map(|id| Credential::Session(id.to_owned()))
    }

    /// The secret itself, which the dashboard's form tokens are bound to.
    fn secret(&self) -> &str {
        match self {
            Credential::Bearer(secret) | Credential::Session(secret) => secret,
        }
    }
}

/// Who presents `credential`: a bearer token through [`Throttle::check`]; a session by its
/// stored row, refused once idle for [`SESSION_IDLE`], older than [`SESSION_LIFETIME`], or
/// when the token that opened it is no longer configured. A stale session is not a
/// failed login: its id was issued, not guessed.
async fn authenticate<S: Store>(
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
async fn open_session<S: Store>(state: &ApiState<S>, token: &str) -> Result<String, StoreError> {
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = state.clock.now();
    state.store.create_session(&digest(&id), &digest(token), now, now - SESSION_LIFETIME).await?;
    Ok(id)
}

/// The client's address, when the server passes connection info.
fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
}

/// [`client_address`] as an extractor, for handlers that read the request's body too.
struct ClientAddress(Option<IpAddr>);

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

    fn mac(&self, session: &str) -> Hmac<Sha256> {
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

pub struct ApiState<S> {
    pub store: Arc<S>,
    /// The analyze → incident stage, for pushed mentions.
    pub pipeline: Arc<Pipeline<S>>,
    pub links: AckLinks,
    pub tokens: Arc<Tokens>,
    pub throttle: Arc<Throttle>,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    pub public_url: String,
    /// Poked when an action queued notifications, so they go out at once.
    pub wake_outbox: Arc<Notify>,
    /// The configured channels, for the channel endpoints.
    pub channel_names: Arc<Vec<String>>,
    pub csrf: Csrf,
    /// Poked by `POST /api/v1/reload`; the daemon's runner reloads as on SIGHUP.
    pub reload_requested: Arc<Notify>,
}

impl<S> Clone for ApiState<S> {
    fn clone(&self) -> Self {
        ApiState {
            store: self.store.clone(),
            pipeline: self.pipeline.clone(),
            links: self.links.clone(),
            tokens: self.tokens.clone(),
            throttle: self.throttle.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            public_url: self.public_url.clone(),
            wake_outbox: self.wake_outbox.clone(),
            channel_names: self.channel_names.clone(),
            csrf: self.csrf.clone(),
            reload_requested: self.reload_requested.clone(),
        }
    }
}

/// An error answered as JSON `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds to wait, sent as `Retry-After`.
    retry_after: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NoIncident(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::NoSilence(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::Transition(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            StoreError::Refused(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
            other => {
                tracing::error!(error = %other, "store error in API");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the daemon log")
            }
        }
    }
}

/// The body of every API error.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    /// What is wrong, in words a user can act on.
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.message })).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
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
    fn require_every_brand(&self, what: &str) -> Result<(), ApiError> {
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
    async fn incident<S: Store>(&self, state: &ApiState<S>, id: i64) -> Result<Incident, ApiError> {
        let incident = state.store.incident(id).await?.ok_or(StoreError::NoIncident(id))?;
        match brand_refusal(&self.brands, &self.name, &incident) {
            Some(message) => Err(ApiError::new(StatusCode::FORBIDDEN, message)),
            None => Ok(incident),
        }
    }

    /// Refuses a caller whose role is below `needed`, saying which role it takes.
    fn require(&self, needed: Role) -> Result<(), ApiError> {
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
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

/// The OpenAPI document of the `/api/v1` routes, generated from the handlers' annotations
/// and the types they take and return.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tocsin",
        version = env!("CARGO_PKG_VERSION"),
        description = "Crisis monitoring: incidents opened from feed mentions, their response workflow \
                       (acknowledge, assign, notes, playbook steps, review), silences, notification \
                       channels, feeds and mentions. Every route except this document takes \
                       `Authorization: Bearer <token>`; errors are `{\"error\": message}`."
    ),
    paths(
        list_incidents,
        get_incident,
        get_timeline,
        acknowledge,
        resolve,
        reopen,
        assign,
        note,
        step_done,
        checklist,
        review,
        list_silences,
        add_silence,
        end_silence,
        list_channels,
        enable_channel,
        disable_channel,
        list_feeds,
        search_mentions,
        push_mentions,
        quality::triage_mention,
        quality::get_rule_quality,
        reload,
        get_share_of_voice,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "incidents", description = "Incidents and their response workflow"),
        (name = "silences", description = "Silences that hold back matching mentions"),
        (name = "channels", description = "Notification channels and their health"),
        (name = "feeds", description = "Polled feeds and their health"),
        (name = "mentions", description = "Stored mentions, and mentions pushed by other tools"),
        (name = "meta", description = "This document, and reloading the daemon's configuration"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the document's `security` names: an API token
/// from `TOCSIN_API_TOKENS`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token from TOCSIN_API_TOKENS; the dashboard's session cookie also works"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn router<S: Store>(state: ApiState<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/incidents", get(list_incidents::<S>))
        .route("/api/v1/incidents/{id}", get(get_incident::<S>))
        .route("/api/v1/incidents/{id}/timeline", get(get_timeline::<S>))
        .route("/api/v1/incidents/{id}/ack", post(acknowledge::<S>))
        .route("/api/v1/incidents/{id}/resolve", post(resolve::<S>))
        .route("/api/v1/incidents/{id}/reopen", post(reopen::<S>))
        .route("/api/v1/incidents/{id}/assign", post(assign::<S>))
        .route("/api/v1/incidents/{id}/note", post(note::<S>))
        .route("/api/v1/incidents/{id}/steps/{step}", post(step_done::<S>))
        .route("/api/v1/incidents/{id}/checklist", get(checklist::<S>))
        .route("/api/v1/incidents/{id}/review", get(review::<S>))
        .route("/api/v1/silences", get(list_silences::<S>).post(add_silence::<S>))
        .route("/api/v1/silences/{id}/end", post(end_silence::<S>))
        .route("/api/v1/channels", get(list_channels::<S>))
        .route("/api/v1/channels/{name}/enable", post(enable_channel::<S>))
        .route("/api/v1/channels/{name}/disable", post(disable_channel::<S>))
        .route("/api/v1/feeds", get(list_feeds::<S>))
        .route("/api/v1/mentions", get(search_mentions::<S>).post(push_mentions::<S>))
        .route("/api/v1/reload", post(reload::<S>))
        .route("/api/v1/share-of-voice", get(get_share_of_voice::<S>))
        .route("/api/v1/mentions/{id}/triage", post(quality::triage_mention::<S>))
        .route("/api/v1/rules/{id}/quality", get(quality::get_rule_quality::<S>))
        .merge(dashboard::routes())
        .with_state(state)
}

/// The OpenAPI document. Served without a token, unlike the routes it describes: it holds
/// only the routes and the shapes of their bodies, which the source shows anyway, and no
/// data, token or configuration.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This document", body = Object))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// How long `/healthz` waits for the database: a check that hangs tells a load balancer
/// nothing, and the image's `HEALTHCHECK` gives up after 5s.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `ok` while the database answers a one-row read, else 503 with a short reason (the
/// error itself goes to the log: this route takes no token).
async fn healthz<S: Store>(State(state): State<ApiState<S>>) -> Response {
    let problem = match tokio::time::timeout(HEALTH_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => return "ok\n".into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database failed");
            "the database failed a read\n"
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer in time");
            "the database did not answer within 3s\n"
        }
    };
    (StatusCode::SERVICE_UNAVAILABLE, problem).into_response()
}

async fn metrics<S: Store>(State(state): State<ApiState<S>>) -> Response {
    if let Ok(pending) = state.store.pending_notices().await {
        ::metrics::gauge!("tocsin_outbox_pending").set(pending as f64);
    }
    if let Ok(count) = state.store.mention_count().await {
        ::metrics::gauge!("tocsin_mentions").set(count as f64);
    }
    // Read from the store at each scrape, like the gauges above: with several daemons
    // sharing a database, whichever one is scraped reports the breakers and feeds as they
    // are, not as it last saw them.
    if let Ok(healths) = state.store.channel_healths().await {
        let now = state.clock.now();
        for name in state.channel_names.iter() {
            let tripped = healths
                .iter()
                .find(|health| &health.name == name)
                .is_some_and(|health| matches!(health.availability(now), Availability::Tripped { .. }));
            ::metrics::gauge!("tocsin_channel_breaker_open", "channel" => name.clone())
                .set(f64::from(u8::from(tripped)));
        }
    }
    if let Ok(feeds) = state.store.feed_states().await {
        for feed in feeds.into_iter().filter(|feed| state.pipeline.is_configured_feed(&feed.name)) {
            ::metrics::gauge!("tocsin_feed_consecutive_failures", "feed" => feed.name)
                .set(feed.consecutive_failures as f64);
        }
    }
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// One page of a list, newest first.
#[derive(Serialize, ToSchema)]
struct Page<T> {
    items: Vec<T>,
    /// The `cursor` of the next page; `null` on the last page (and for lists not paged).
    next: Option<i64>,
}

/// Filters and paging for the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only incidents in this status.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    /// Only incidents of this rule (its id).
    rule: Option<String>,
    /// Only incidents of this brand (its `[[brand]]` name).
    brand: Option<String>,
    /// Only incidents at this level.
    #[param(value_type = Option<Level>)]
    level: Option<String>,
    /// Opened at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Opened before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1..500; 50 when not given.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}
/// An RFC 3339 time from a query parameter, or a 400 naming it.
fn query_time(name: &str, value: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    value
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("{name} {text:?} is not an RFC 3339 time: {e}"))
            })
        })
        .transpose()
}

/// Cuts a list fetched with one extra item to `limit`; the cursor of the next page (the
/// last id shown) when the extra item was there, `None` on the last page.
fn next_page<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Option<i64> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(id)
    } else {
        None
    }
}

/// A page size within 1..500 (50 when not given), or a 400.
fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(StatusCode::BAD_REQUEST, "limit must be within 1..500"))
    }
}

/// Incidents, newest first: by status, rule, level and opening time, paged by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of incidents", body = Page<Incident>),
        (status = 400, description = "A filter or the page size is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn list_incidents<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Incident>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("status {text:?} is not open, acknowledged or resolved"))
        })?),
    };
    let level = match query.level.as_deref() {
        None => None,
        Some(text) => Some(Level::parse(text).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("level {text:?} is not low, medium, high or critical"))
        })?),
    };
    let limit = page_limit(query.limit)?;
    let filter = IncidentFilter {
        status,
        rule: query.rule,
        level,
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
        before_id: query.cursor,
        // One more than shown: whether there is a next page at all.
        limit: limit + 1,
        brands: caller.brands.narrowed(query.brand.as_deref()),
    };
    let mut items = state.store.incidents(&filter).await?;
    let next = next_page(&mut items, limit, |i| i.id);
    Ok(Json(Page { items, next }))
}

/// One incident.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
async fn get_incident<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    Ok(Json(caller.incident(&state, id).await?))
}

/// An incident's timeline and whether its hash chain verifies.
#[derive(Serialize, ToSchema)]
struct Timeline {
    /// Every event, oldest first.
    items: Vec<Event>,
    /// Whether each event's hash covers it and the one before: no event was edited, dropped
    /// or reordered.
    verified: bool,
}

/// An incident's timeline, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/timeline",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The timeline", body = Timeline),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
async fn get_timeline<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Timeline>, ApiError> {
    caller.incident(&state, id).await?;
    let items = state.store.timeline(id).await?;
    let verified = crate::incident::timeline::verify(&items).is_ok();
    Ok(Json(Timeline { items, verified }))
}

/// The configured feeds with their poll state; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    tag = "feeds",
    responses(
        (status = 200, description = "Every feed (`next` is always null)", body = Page<FeedState>),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn list_feeds<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
) -> Result<Json<Page<FeedState>>, ApiError> {
    let mut items = state.store.feed_states().await?;
    items.retain(|feed| {
        state.pipeline.is_configured_feed(&feed.name) && caller.brands.sees(state.pipeline.feed_brand(&feed.name))
    });
    Ok(Json(Page { items, next: None }))
}

/// Filters and paging for the mention search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MentionQuery {
    /// Text in the title or body.
    q: Option<String>,
    /// Only mentions that matched this rule (its id).
    rule: Option<String>,
    /// Only mentions from this feed (its name).
    feed: Option<String>,
    /// Only mentions about this brand (its `[[brand]]` name).
    brand: Option<String>,
    /// Fetched at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Fetched before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1..500; 50 when not given.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Stored mentions, newest first: by text, rule, feed and fetch time, paged by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/mentions",
    tag = "mentions",
    params(MentionQuery),
    responses(
        (status = 200, description = "A page of mentions", body = Page<StoredMention>),
        (status = 400, description = "A filter or the page size is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn search_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<MentionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<StoredMention>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let limit = page_limit(query.limit)?;
    let filter = MentionFilter {
        text: query.q.filter(|q| !q.trim().is_empty()),
        rule: query.rule,
        feed: query.feed,
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
        before_id: query.cursor,
        limit: limit + 1,
        brands: caller.brands.narrowed(query.brand.as_deref()),
    };
    let mut items = state.store.mentions(&filter).await?;
    let next = next_page(&mut items, limit, |m| m.id);
    Ok(Json(Page { items, next }))
}

/// What a push did.
#[derive(Serialize, ToSchema)]
struct Pushed {
    /// Mentions already stored (same feed and id): nothing was written for them.
    duplicates: u64,
    /// Incidents the pushed mentions opened or reopened.
    opened: Vec<i64>,
    /// Mentions stored.
    stored: u64,
}

/// Mentions pushed by other tools go through the same pipeline (and dedup) as polled ones.
#[utoipa::path(
    post,
    path = "/api/v1/mentions",
    tag = "mentions",
    request_body(content = PushBody, description = "One mention or a list of them"),
    responses(
        (status = 200, description = "The mentions were processed", body = Pushed),
        (status = 400, description = "The body is not mention JSON, or a mention has neither title nor body", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn push_mentions<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    body: axum::body::Bytes,
) -> Result<Json<Pushed>, ApiError> {
    caller.require_every_brand("a pushed mention is judged for every brand it names, so pushing")?;
    let pushed: PushBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad mention JSON: {e}")))?;
    let now = state.clock.now();
    let mentions = pushed
        .into_inputs()
        .into_iter()
        .enumerate()
        .map(|(index, input)| input.into_mention(index, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let mut outcome = Pushed { duplicates: 0, opened: Vec::new(), stored: 0 };
    for ingested in state.pipeline.process_all(mentions).await? {
        match ingested {
            IngestOutcome::Duplicate => outcome.duplicates += 1,
            IngestOutcome::Stored { opened, .. } => {
                outcome.stored += 1;
                outcome.opened.extend(opened);
            }
        }
    }
    Ok(Json(outcome))
}

/// Share of voice over a period: each configured brand's and competitor's mentions side by
/// side, in config order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareOfVoice {
    /// `24h`, `7d` or `30d`.
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub brands: Vec<BrandShare>,
}

/// One brand's row of the share of voice.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandShare {
    #[serde(flatten)]
    pub voice: crate::store::BrandVoice,
    /// Watched for comparison; its crises open no incident.
    pub competitor: bool,
    /// Its mentions over all the rows' mentions, 0..1.
    pub share: f64,
}

/// The periods share of voice, rule quality and the mention page are read over.
const PERIODS: &[(&str, i64)] = &[("24h", 1), ("7d", 7), ("30d", 30)];

/// The start of `period` (`24h`, `7d` or `30d`) ending at `to`; 400 for any other.
fn period_start(period: &str, to: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let days = PERIODS.iter().find(|(name, _)| *name == period).map(|(_, days)| *days);
    let days =
        days.ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("period {period:?} is not 24h, 7d or 30d")))?;
    Ok(to - chrono::Duration::days(days))
}
/// Stories listed per brand.
const VOICE_STORIES: i64 = 5;

/// Share of voice over the `period` ending at `to`, for the brands `scope` sees and every
/// competitor (market data, no client's).
pub async fn share_of_voice<S: Store>(
    state: &ApiState<S>,
    scope: &BrandScope,
    period: &str,
    to: DateTime<Utc>,
) -> Result<ShareOfVoice, ApiError> {
    let from = period_start(period, to)?;
    let shown: Vec<&crate::config::BrandConfig> = state
        .pipeline
        .config()
        .brands
        .iter()
        .filter(|brand| brand.competitor || scope.sees(Some(brand.name.get_ref())))
        .collect();
    let names: Vec<String> = shown.iter().map(|brand| brand.name.get_ref().clone()).collect();
    let voices = state.store.share_of_voice(&names, from, to, VOICE_STORIES).await?;
    let total: i64 = voices.iter().map(|voice| voice.mentions).sum();
    let brands = voices
        .into_iter()
        .zip(&shown)
        .map(|(voice, brand)| BrandShare {
            share: if total > 0 { voice.mentions as f64 / total as f64 } else { 0.0 },
            competitor: brand.competitor,
            voice,
        })
        .collect();
    Ok(ShareOfVoice { period: period.to_owned(), from, to, brands })
}

/// The period of a share-of-voice request.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct VoiceQuery {
    /// `24h` (the default), `7d` or `30d`.
    period: Option<String>,
    /// The end of the period (RFC 3339); now when not given.
    #[param(format = DateTime)]
    until: Option<String>,
}

/// Share of voice: per brand and competitor, mention volume, its share, mean sentiment,
/// negative mentions, rule matches and top stories over a period.
#[utoipa::path(
    get,
    path = "/api/v1/share-of-voice",
    tag = "mentions",
    params(VoiceQuery),
    responses(
        (status = 200, description = "Each brand the token sees, and every competitor", body = ShareOfVoice),
        (status = 400, description = "The period or time is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn get_share_of_voice<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<VoiceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ShareOfVoice>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let to = query_time("until", query.until.as_deref())?.unwrap_or_else(|| state.clock.now());
    Ok(Json(share_of_voice(&state, &caller.brands, query.period.as_deref().unwrap_or("24h"), to).await?))
}

/// Applies a workflow action to an incident as the caller, and wakes the outbox for the
/// notices it queued.
async fn act<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: i64,
    action: Action,
) -> Result<Json<Incident>, ApiError> {
    caller.incident(state, id).await?;
    let actor = &caller.name;
    let incident = state.store.transition(id, action, actor, state.clock.now()).await?;
    tracing::info!(incident = id, %actor, action = action.past_tense(), "incident updated");
    state.wake_outbox.notify_one();
    Ok(Json(incident))
}

/// Acknowledges an open incident: escalation stops.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/ack",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, acknowledged", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
async fn acknowledge<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Acknowledge).await
}

/// Resolves an incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, resolved", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
async fn resolve<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Resolve).await
}

/// Reopens a resolved incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/reopen",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident, open again", body = Incident),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident's status does not allow it", body = ErrorBody),
    )
)]
async fn reopen<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
) -> Result<Json<Incident>, ApiError> {
    act(&state, &caller, id, Action::Reopen).await
}

/// A channel and whether it takes notices now.
#[derive(Serialize, ToSchema)]
struct ChannelStatus {
    availability: Availability,
    health: ChannelHealth,
}

/// The configured channels with their health; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    responses(
        (status = 200, description = "Every configured channel (`next` is always null)", body = Page<ChannelStatus>),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn list_channels<S: Store>(
    State(state): State<ApiState<S>>,
    _caller: Caller,
) -> Result<Json<Page<ChannelStatus>>, ApiError> {
    let now = state.clock.now();
    let mut items = Vec::new();
    for name in state.channel_names.iter() {
        let health = state.store.channel_health(name).await?;
        items.push(ChannelStatus { availability: health.availability(now), health });
    }
    Ok(Json(Page { items, next: None }))
}

fn known_channel<S>(state: &ApiState<S>, name: &str) -> Result<(), ApiError> {
    if state.channel_names.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no channel named {name:?}")))
    }
}

/// Re-enables a channel disabled by hand or by a 410 Gone.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{name}/enable",
    tag = "channels",
    params(("name" = String, Path, description = "The channel's name in the config")),
    responses(
        (status = 200, description = "The channel's health, enabled", body = ChannelHealth),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No channel of that name", body = ErrorBody),
    )
)]
async fn enable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    caller.require_every_brand("a channel")?;
    let actor = &caller.name;
    tracing::info!(channel = %name, %actor, "channel enabled");
    Ok(Json(state.store.set_channel_enabled(&name, true, "", state.clock.now()).await?))
}

/// Why a channel is disabled by hand.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DisableBody {
    /// Recorded as "disabled by <caller>: <reason>".
    reason: String,
}

/// Disables a channel: its notices go to the fallback until it is enabled again.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{name}/disable",
    tag = "channels",
    params(("name" = String, Path, description = "The channel's name in the config")),
    request_body = DisableBody,
    responses(
        (status = 200, description = "The channel's health, disabled", body = ChannelHealth),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No channel of that name", body = ErrorBody),
    )
)]
async fn disable_channel<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<ChannelHealth>, ApiError> {
    known_channel(&state, &name)?;
    caller.require_every_brand("a channel")?;
    let actor = &caller.name;
    let DisableBody { reason } = body(&bytes)?;
    let reason = format!("disabled by {actor}: {}", reason.trim());
    Ok(Json(state.store.set_channel_enabled(&name, false, &reason, state.clock.now()).await?))
}

/// A JSON body, or a 400 that says what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

/// Who to assign an incident to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// The assignee's name; not empty.
    to: String,
}

/// A note for an incident's timeline.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    /// The note; not empty.
    text: String,
}

/// A playbook step marked done, with an optional note.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StepBody {
    note: Option<String>,
}

async fn record<S: Store>(
    state: &ApiState<S>,
    id: i64,
    entry: Entry,
    caller: &Caller,
) -> Result<Json<Incident>, ApiError> {
    caller.incident(state, id).await?;
    Ok(Json(state.store.record(id, &entry, &caller.name, state.clock.now()).await?))
}

/// Assigns an incident to someone.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/assign",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The incident, assigned", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "No assignee given", body = ErrorBody),
    )
)]
async fn assign<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let AssignBody { to } = body(&bytes)?;
    record(&state, id, Entry::Assign(to), &caller).await
}

/// Adds a note to an incident's timeline.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/note",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "The note is empty or too long", body = ErrorBody),
    )
)]
async fn note<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let NoteBody { text } = body(&bytes)?;
    record(&state, id, Entry::Note(text), &caller).await
}

/// Marks a step of the incident's playbook done; the body may be empty.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/steps/{step}",
    tag = "incidents",
    params(
        ("id" = i64, Path, description = "The incident's id"),
        ("step" = String, Path, description = "The step's id in the incident's playbook"),
    ),
    request_body = Option<StepBody>,
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "No playbook, no such step, or the step is already done", body = ErrorBody),
    )
)]
async fn step_done<S: Store>(
    State(state): State<ApiState<S>>,
    Responder(caller): Responder,
    Path((id, step)): Path<(i64, String)>,
    bytes: axum::body::Bytes,
) -> Result<Json<Incident>, ApiError> {
    let StepBody { note } = if bytes.is_empty() { StepBody::default() } else { body(&bytes)? };
    record(&state, id, Entry::StepDone { step, note }, &caller).await
}

/// An incident's playbook as a checklist: each step, when it is due, and who did it.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/checklist",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The checklist", body = Checklist),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
async fn checklist<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Checklist>, ApiError> {
    caller.incident(&state, id).await?;
    Ok(Json(state.store.checklist(id).await?))
}

/// The review's format.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReviewQuery {
    /// `json` (the default), `md` or `html`.
    format: Option<String>,
}

/// The post-incident review: JSON by default, `?format=md` or `?format=html`.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/review",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id"), ReviewQuery),
    responses(
        (status = 200, description = "The review: the incident, its key times, chart, playbook progress and \
                                      timeline", content(
            (Object = "application/json"),
            (String = "text/markdown"),
            (String = "text/html"),
        )),
        (status = 400, description = "The format is not json, md or html", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
async fn review<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    Path(id): Path<i64>,
    query: Result<Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    caller.incident(&state, id).await?;
    let review = Review::build(state.store.review_input(id).await?, state.clock.now());
    let (content_type, text) = match query.format.as_deref().unwrap_or("json") {
        "json" => (
            "application/json",
            review.to_json().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        ),
        "md" => ("text/markdown; charset=utf-8", review.to_markdown()),
        "html" => ("text/html; charset=utf-8", review.to_html()),
        other => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("format {other:?} is not json, md or html")));
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Which silences to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SilenceQuery {
    /// Also list silences that are over; only those in force when not given.
    all: Option<bool>,
}

/// Silences, in force only unless `all=true`; not paged.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "silences",
    params(SilenceQuery),
    responses(
        (status = 200, description = "The silences (`next` is always null)", body = Page<Silence>),
        (status = 400, description = "The query is not valid", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn list_silences<S: Store>(
    State(state): State<ApiState<S>>,
    caller: Caller,
    query: Result<Query<SilenceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Silence>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let active_at = (!query.all.unwrap_or(false)).then(|| state.clock.now());
    let mut items = state.store.silences(active_at).await?;
    // A silence of every brand holds back the caller's brands' incidents too: it is theirs to see.
    items.retain(|silence| silence.brand.is_none() || caller.brands.sees(silence.brand.as_deref()));
    Ok(Json(Page { items, next: None }))
}

/// A new silence: exactly one of `rule`, `feed`, `tag` or `query`, how long, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    /// Silence matches of this rule (its id).
    rule: Option<String>,
    /// Silence mentions from this feed (its name).
    feed: Option<String>,
    /// Silence mentions from feeds with this tag.
    tag: Option<String>,
    /// Silence mentions this rule-language query is true for.
    query: Option<String>,
    /// Hold back this brand's incidents only (its `[[brand]]` name); a brand-limited
    /// token must name one of its brands.
    brand: Option<String>,
    /// How long, as a human duration (`2h`, `30m`).
    #[serde(rename = "for")]
    duration: String,
    reason: String,
}

/// What `POST /api/v1/reload` answers.
#[derive(Serialize, ToSchema)]
struct ReloadAccepted {
    /// What happens next.
    status: String,
}

/// Reloads the config, rules and playbooks as SIGHUP does: read and checked together; a
/// rules-only change is swapped in, a changed config restarts the daemon in its process,
/// and a broken file is refused with every error in the log while what runs stays. The
/// answer comes before the reload is done: the log says how it went.
#[utoipa::path(
    post,
    path = "/api/v1/reload",
    tag = "meta",
    responses(
        (status = 202, description = "The reload is under way", body = ReloadAccepted),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "The token is not an admin's", body = ErrorBody),
    )
)]
async fn reload<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
) -> Result<(StatusCode, Json<ReloadAccepted>), ApiError> {
    caller.require_every_brand("a reload")?;
    tracing::info!(by = %caller.name, "reload requested over the API");
    state.reload_requested.notify_one();
    let status = "reload requested: the config, rules and playbooks are read again; the log says how it went";
    Ok((StatusCode::ACCEPTED, Json(ReloadAccepted { status: status.into() })))
}

/// Adds a silence, in force from now.
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    tag = "silences",
    request_body = SilenceBody,
    responses(
        (status = 201, description = "The silence, as stored", body = Silence),
        (status = 400, description = "The body is not valid: not exactly one scope, a bad duration, an unknown \
                                      rule or a query that does not parse", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
    )
)]
async fn add_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    let silence: SilenceBody = body(&bytes)?;
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let (scope, value) = match (silence.rule, silence.feed, silence.tag, silence.query) {
        (Some(v), None, None, None) => (Scope::Rule, v),
        (None, Some(v), None, None) => (Scope::Feed, v),
        (None, None, Some(v), None) => (Scope::Tag, v),
        (None, None, None, Some(v)) => (Scope::Query, v),
        _ => return Err(bad("give exactly one of rule, feed, tag or query".into())),
    };
    let length: HumanDuration = silence.duration.parse().map_err(|e: String| bad(format!("for: {e}")))?;
    let now = state.clock.now();
    let brand = silence.brand.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty());
    if let Some(refusal) = caller.brands.silence_refusal(&caller.name, brand.as_deref()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, refusal));
    }
    let new = NewSilence {
        scope,
        value: value.trim().to_owned(),
        reason: silence.reason.trim().to_owned(),
        created_by: caller.name,
        created_at: now,
        ends_at: now + length.chrono(),
        brand,
    };
    state.pipeline.check_silence(&new).map_err(bad)?;
    Ok((StatusCode::CREATED, Json(state.store.add_silence(&new).await?)))
}

/// Ends a silence early.
#[utoipa::path(
    post,
    path = "/api/v1/silences/{id}/end",
    tag = "silences",
    params(("id" = i64, Path, description = "The silence's id")),
    responses(
        (status = 200, description = "The silence, ended", body = Silence),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such silence", body = ErrorBody),
        (status = 422, description = "The silence is already over", body = ErrorBody),
    )
)]
async fn end_silence<S: Store>(
    State(state): State<ApiState<S>>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<Json<Silence>, ApiError> {
    if let Some(silence) = state.store.silence(id).await?
        && let Some(refusal) = caller.brands.silence_refusal(&caller.name, silence.brand.as_deref())
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, refusal));
    }
    Ok(Json(state.store.end_silence(id, &caller.name, state.clock.now()).await?))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The document as JSON, as the route serves it.
    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    /// Every (method, path) the document lists.
    fn documented() -> BTreeSet<(String, String)> {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flat_map(|item| item.keys())
                    .filter(|key| ["get", "post", "put", "patch", "delete"].contains(&key.as_str()))
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    /// Every (method, path) under `/api/v1` that [`router`] registers, read from this file's
    /// source: one `.route("/api/v1/...", get(..).post(..))` per line.
    fn routed() -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for line in include_str!("mod.rs").lines().map(str::trim) {
            let Some(rest) = line.strip_prefix(".route(\"/api/v1") else { continue };
            let Some((tail, handlers)) = rest.split_once('"') else { continue };
            for method in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{method}(");
                let called = handlers
                    .match_indices(&call)
                    .any(|(at, _)| handlers[..at].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_')));
                if called {
                    found.insert((method.to_owned(), format!("/api/v1{tail}")));
                }
            }
        }
        found
    }

    #[test]
    fn the_document_is_openapi_3_named_versioned_and_declares_the_bearer_scheme() {
        let document = document();
        assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
        assert_eq!(document["info"]["title"], "tocsin");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(document["info"]["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(document["security"], serde_json::json!([{"bearer": []}]), "every route needs a token");
        assert_eq!(
            document["paths"]["/api/v1/openapi.json"]["get"]["security"],
            serde_json::json!([{}]),
            "except the document itself"
        );
    }

    #[test]
    fn every_api_route_the_router_serves_is_documented_and_no_other() {
        let routed = routed();
        assert!(routed.len() > 20, "the source scan found the routes: {routed:?}");
        assert_eq!(routed, documented());
    }

    #[test]
    fn the_incident_schema_has_the_fields_spec_2_fixes() {
        let document = document();
        let incident = &document["components"]["schemas"]["Incident"]["properties"];
        for field in [
            "id",
            "status",
            "level",
            "score",
            "rule",
            "title",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "mentions",
            "why",
        ] {
            assert!(incident.get(field).is_some(), "Incident lacks {field}: {incident}");
        }
        assert_eq!(incident["opened_at"]["format"], "date-time", "times are RFC 3339 strings");
        assert_eq!(
            document["components"]["schemas"]["Status"]["enum"],
            serde_json::json!(["open", "acknowledged", "resolved"])
        );
    }

    #[test]
    fn every_error_is_documented_as_the_error_body() {
        let document = document();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if status.starts_with('4') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

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
