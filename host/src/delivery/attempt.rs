//! One delivery attempt: the request as the receiver gets it, and what its
//! answer means for the outbox row.
//!
//! Any 2xx is success. Any other status, a timeout or a connection error is
//! retried until the attempts run out. A receiver whose secret cannot be
//! found any more (its webhook was deleted) or whose URL the outbound policy
//! refuses fails at once: no retry would change that. Redirects are
//! followed only within the receiver's host.

use std::time::Instant;

use bytes::Bytes;
use reqwest::Method;

use super::settings::{GLOBAL_PREFIX, URL_PREFIX};
use super::{Webhooks, signing};
use crate::clock::now_ms;
use crate::outbound::{FetchError, OutboundRequest};
use crate::store::StoreError;
use crate::store::deliveries::{AttemptResult, DeliveryRow};

/// The largest answer read from a receiver; its body is not used.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Why an attempt could not even be made.
#[derive(Debug, thiserror::Error)]
enum Unsendable {
    #[error("the webhook was deleted")]
    WebhookDeleted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes attempt number `row.attempts + 1` of `row` (the worker has counted
/// it already, see [`crate::store::Store::start_attempts`]); what it means for
/// the row, or `None` when it could not be made (the database is down): the
/// row then stays due as it is.
pub async fn attempt(webhooks: Webhooks, row: DeliveryRow) -> Option<AttemptResult> {
    let settings = &webhooks.inner.settings;
    let number = u32::try_from(row.attempts).unwrap_or(u32::MAX - 1).saturating_add(1);
    let started = Instant::now();
    // Parsed once: the redirect rule and every log line name it.
    let host = receiver_host(&row.url);
    let outcome = match secret(&webhooks, &row).await {
        Ok(secret) => send(&webhooks, &row, &host, secret.as_deref(), number).await,
        Err(Unsendable::WebhookDeleted) => Err((Unsendable::WebhookDeleted.to_string(), false)),
        Err(Unsendable::Store(e)) => {
            tracing::warn!(delivery = %row.id, error = %e, "a webhook delivery could not be prepared");
            return None;
        }
    };
    Some(match outcome {
        Ok(status) => {
            log(
                settings.debug,
                &row,
                &host,
                number,
                started,
                &format!("delivered (HTTP {status})"),
            );
            AttemptResult::Delivered
        }
        Err((error, retryable)) if retryable && number < settings.attempts => {
            let wait = settings.backoff_after(number);
            log(
                settings.debug,
                &row,
                &host,
                number,
                started,
                &format!("failed: {error}; next attempt in {wait:?}"),
            );
            AttemptResult::Retry {
                error,
                next_attempt_ms: now_ms() + wait.as_millis() as i64,
            }
        }
        Err((error, _)) => {
            tracing::warn!(
                delivery = %row.id, event = %row.event_id, webhook = %row.webhook_id, attempt = number,
                error = %error, "webhook delivery failed for good; POST /api/deliveries/{{id}}/retry sends it again"
            );
            AttemptResult::Failed { error }
        }
    })
}

/// The host of receiver URL `url` (what logs and notices name: its path and
/// query may carry secrets).
pub fn receiver_host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Each attempt's line: at info with `--debug`, else at debug.
fn log(debug: bool, row: &DeliveryRow, host: &str, number: u32, started: Instant, outcome: &str) {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if debug {
        tracing::info!(delivery = %row.id, event = %row.event_id, %host, format = %row.format, attempt = number, elapsed_ms, "webhook {outcome}");
    } else {
        tracing::debug!(delivery = %row.id, event = %row.event_id, %host, format = %row.format, attempt = number, elapsed_ms, "webhook {outcome}");
    }
}

/// The key `row` is signed with: `None` for unsigned single-URL targets.
async fn secret(webhooks: &Webhooks, row: &DeliveryRow) -> Result<Option<String>, Unsendable> {
    if row.webhook_id.starts_with(GLOBAL_PREFIX) {
        return Ok(Some(webhooks.inner.settings.global_secret.clone()));
    }
    if row.webhook_id.starts_with(URL_PREFIX) {
        return Ok(None);
    }
    let secret = match &row.instance_id {
        Some(instance_id) => webhooks.inner.receivers.secret(instance_id, &row.webhook_id).await?,
        None => webhooks.inner.store.webhook_secret(&row.webhook_id).await?,
    };
    match secret {
        Some(secret) => Ok(Some(secret)),
        None => Err(Unsendable::WebhookDeleted),
    }
}

/// Sends `row` to its receiver on `host`; the 2xx status, or the error and
/// whether retrying may help.
async fn send(
    webhooks: &Webhooks,
    row: &DeliveryRow,
    host: &str,
    secret: Option<&str>,
    number: u32,
) -> Result<u16, (String, bool)> {
    // The plugin's headers first: the host's own win (the receiver reads the
    // last value of a repeated header only by accident, so they are removed).
    let own = [
        "content-type",
        "x-wasap-event-id",
        "x-wasap-delivery-attempt",
        "x-sudevwa-signature",
        "x-hub-signature-256",
        "x-wasap-signature",
    ];
    let mut headers: Vec<(String, String)> = row
        .header_pairs()
        .into_iter()
        .filter(|(name, _)| !own.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    headers.push(("Content-Type".to_owned(), row.content_type.clone()));
    headers.push(("X-Wasap-Event-Id".to_owned(), row.event_id.clone()));
    headers.push(("X-Wasap-Delivery-Attempt".to_owned(), number.to_string()));
    if let Some(secret) = secret
        && let Some((name, value)) = signing::signature(&row.format, secret, &row.payload)
    {
        headers.push((name.to_owned(), value));
        // Signed per attempt: its time is when this attempt was made.
        let signed = signing::timestamped_signature(secret, crate::clock::now_secs(), &row.event_id, &row.payload);
        headers.push((signing::TIMESTAMPED_HEADER.to_owned(), signed));
    }
    let request = OutboundRequest {
        method: Method::POST,
        url: row.url.clone(),
        headers,
        body: Some(Bytes::copy_from_slice(&row.payload)),
        timeout: webhooks.inner.settings.timeout,
        max_response_bytes: MAX_RESPONSE_BYTES,
    };
    // Redirects are followed only on the receiver's own host: a signed
    // payload must not be forwarded to wherever a redirect points, and a
    // plugin's single-URL target must stay on the host its manifest allows.
    let host = host.to_owned();
    match webhooks.inner.requester.send_allowed(request, move |h| h == host).await {
        Ok(response) if (200..300).contains(&response.status) => Ok(response.status),
        Ok(response) => Err((format!("the receiver answered HTTP {}", response.status), true)),
        Err(e @ (FetchError::NotAllowed(_) | FetchError::InvalidUrl | FetchError::InvalidHeader(_))) => {
            Err((e.to_string(), false))
        }
        Err(e) => Err((e.to_string(), true)),
    }
}
