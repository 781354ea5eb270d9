//! Bulk sends (docs/API.md, "Bulk sends"): one request, one text template
//! ([`super::template`]) and up to [`MAX_RECIPIENTS`] recipients, each with
//! its variables. Everything the client could get wrong in the request is
//! found before anything is queued (a 422, nothing stored); then the
//! recipients are checked with WhatsApp in batches, the ones that cannot be
//! sent to are reported, and the rest become one queued text job each,
//! sharing a batch id, stored in one transaction (all or none, within the
//! instance's `max_waiting`). A batch's still-queued jobs can be cancelled
//! together.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::kinds::TEXT;
use super::template::{self, Template, TemplateError};
use super::{JobStatus, QueueError, SendQueue};
use crate::messaging::{MAX_TEXT_BYTES, Messenger, RecipientError, SendError};
use crate::store::send_jobs::NewJob;

/// Recipients of one bulk send, at most.
pub const MAX_RECIPIENTS: usize = 10_000;
/// Variables of one recipient, at most.
pub const MAX_VARS: usize = 64;
/// The texts of one batch, all together, at most (bytes): the template and
/// the variables are small, what they make is not.
pub const MAX_BATCH_TEXT_BYTES: usize = 32 * 1024 * 1024;
/// A batch id, at most (longer ones name no batch).
const MAX_BATCH_ID_BYTES: usize = 64;

/// A bulk send, as asked.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The text, with `{{name}}` placeholders for the recipients' variables
    /// (at most 65,536 bytes, 256 placeholders).
    pub template: String,
    /// 1 to 10,000 recipients.
    pub recipients: Vec<BulkRecipient>,
    /// Send at this time (RFC 3339) at the earliest; at once when absent.
    pub send_at: Option<String>,
}

/// One recipient of a bulk send.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRecipient {
    /// A phone number in international form without `+`, or a JID.
    pub to: String,
    /// The values of the template's placeholders for this recipient (at
    /// most 64; names of ASCII letters, digits and `_`).
    #[serde(default)]
    pub vars: BTreeMap<String, VarValue>,
}

/// A variable's value: a string, or a number or boolean written as JSON writes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum VarValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl VarValue {
    fn into_text(self) -> String {
        match self {
            VarValue::Text(text) => text,
            VarValue::Integer(n) => n.to_string(),
            VarValue::Number(n) => n.to_string(),
            VarValue::Bool(b) => b.to_string(),
        }
    }
}

/// The answer to a bulk send.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchQueued {
    /// The batch's id: `GET /api/queue/{id}?batch=` lists its jobs,
    /// `DELETE /api/queue/{id}/batches/{batch}` cancels them.
    pub batch_id: String,
    /// How many jobs were queued (one per recipient not rejected).
    pub queued: usize,
    /// When the jobs may go at the earliest (RFC 3339); pacing spreads them.
    pub send_at: String,
    /// The jobs, in the recipients' order.
    pub jobs: Vec<BatchJob>,
    /// The recipients nothing was queued for, and why.
    pub rejected: Vec<Rejected>,
}

/// A job of a batch.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchJob {
    /// The recipient's position in the request (from 0).
    pub index: usize,
    pub to: String,
    pub job_id: i64,
}

/// A recipient nothing was queued for.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rejected {
    /// The recipient's position in the request (from 0).
    pub index: usize,
    pub to: String,
    /// `recipient_not_on_whatsapp`, `invalid_phone`, `invalid_recipient`
    /// or `duplicate_recipient` (the same account as an earlier recipient).
    pub error: &'static str,
    pub message: String,
}

/// The answer to a batch's cancel.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchCancelled {
    pub batch_id: String,
    /// How many of its jobs were still queued and are now cancelled (the
    /// others had gone, or were finished, already).
    pub cancelled: usize,
}

/// Why a bulk send or a batch's cancel was refused.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("a bulk send needs at least one recipient")]
    NoRecipients,
    #[error("a bulk send has at most {MAX_RECIPIENTS} recipients")]
    TooManyRecipients,
    #[error("the template is empty")]
    EmptyTemplate,
    #[error("the template is longer than {MAX_TEXT_BYTES} bytes")]
    TemplateTooLong,
    #[error("the template: {0}")]
    Template(#[from] TemplateError),
    #[error("recipient {index} ({to}) has no variable {name:?}, which the template uses")]
    MissingVariable { index: usize, to: String, name: String },
    #[error("recipient {index} ({to}): {why}")]
    InvalidVariable { index: usize, to: String, why: String },
    #[error("the text for recipient {index} ({to}) is empty")]
    EmptyText { index: usize, to: String },
    #[error("the text for recipient {index} ({to}) is {len} bytes; a text message holds at most {MAX_TEXT_BYTES}")]
    TextTooLong { index: usize, to: String, len: usize },
    #[error("the batch's texts come to more than {MAX_BATCH_TEXT_BYTES} bytes; split it")]
    BatchTooLarge,
    #[error("there is no batch {0:?} on this instance")]
    UnknownBatch(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The instance cannot check the recipients (not connected, WhatsApp
    /// did not answer).
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Each recipient's text, rendered and checked.
fn render_all(request: &BulkRequest) -> Result<Vec<String>, BulkError> {
    if request.recipients.is_empty() {
        return Err(BulkError::NoRecipients);
    }
    if request.recipients.len() > MAX_RECIPIENTS {
        return Err(BulkError::TooManyRecipients);
    }
    if request.template.trim().is_empty() {
        return Err(BulkError::EmptyTemplate);
    }
    if request.template.len() > MAX_TEXT_BYTES {
        return Err(BulkError::TemplateTooLong);
    }
    let template = Template::parse(&request.template)?;
    let mut total = 0;
    let mut texts = Vec::with_capacity(request.recipients.len());
    for (index, recipient) in request.recipients.iter().enumerate() {
        let to = || recipient.to.clone();
        let invalid = |why: String| BulkError::InvalidVariable { index, to: to(), why };
        if recipient.vars.len() > MAX_VARS {
            return Err(invalid(format!("at most {MAX_VARS} variables")));
        }
        let mut vars = BTreeMap::new();
        for (name, value) in &recipient.vars {
            if !template::is_name(name) {
                return Err(invalid(format!(
                    "{name:?} cannot name a variable (1 to {} ASCII letters, digits or _)",
                    template::MAX_NAME_BYTES
                )));
            }
            let value = value.clone().into_text();
            if value.len() > MAX_TEXT_BYTES {
                return Err(invalid(format!("{name} is longer than {MAX_TEXT_BYTES} bytes")));
            }
            vars.insert(name.clone(), value);
        }
        let text = template
            .render(&vars)
            .map_err(|name| BulkError::MissingVariable { index, to: to(), name })?;
        if text.trim().is_empty() {
            return Err(BulkError::EmptyText { index, to: to() });
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(BulkError::TextTooLong {
                index,
                to: to(),
                len: text.len(),
            });
        }
        total += text.len();
        if total > MAX_BATCH_TEXT_BYTES {
            return Err(BulkError::BatchTooLarge);
        }
        texts.push(text);
    }
    Ok(texts)
}

/// The code a rejected recipient is reported with (the single send's code
/// for the same refusal).
fn rejection_code(e: &SendError) -> &'static str {
    match e {
        SendError::Recipient(RecipientError::InvalidPhone(_)) => "invalid_phone",
        SendError::Recipient(RecipientError::InvalidJid(_)) => "invalid_recipient",
        SendError::NotOnWhatsapp(_) => "recipient_not_on_whatsapp",
        _ => "unsendable",
    }
}

fn new_batch_id() -> String {
    use rand::Rng;
    format!("{:032x}", rand::rng().random::<u128>())
}

impl SendQueue {
    /// Queues `request`'s texts from instance `instance_id`, one job per
    /// recipient that can be sent to, as one batch (see the module's doc).
    pub async fn bulk(
        &self,
        messenger: &Messenger,
        instance_id: &str,
        request: BulkRequest,
    ) -> Result<BatchQueued, BulkError> {
        let texts = render_all(&request)?;
        let send_at = request.send_at.as_deref().map(|at| self.send_at(at)).transpose()?;
        let tos: Vec<String> = request.recipients.into_iter().map(|r| r.to).collect();
        let checked = messenger.check_recipients(instance_id, &tos).await?;

        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        let mut seen = HashSet::new();
        for (index, outcome) in checked.into_iter().enumerate() {
            let to = &tos[index];
            match outcome {
                Ok(jid) if seen.insert(jid.clone()) => accepted.push(index),
                Ok(jid) => rejected.push(Rejected {
                    index,
                    to: to.clone(),
                    error: "duplicate_recipient",
                    message: format!("{jid} is an earlier recipient of this batch too"),
                }),
                Err(e) => rejected.push(Rejected {
                    index,
                    to: to.clone(),
                    error: rejection_code(&e),
                    message: e.to_string(),
                }),
            }
        }

        let now_ms = self.inner.clock.now_ms();
        let due_at = send_at.unwrap_or(now_ms).max(now_ms);
        let batch_id = new_batch_id();
        let requests: Vec<String> = accepted
            .iter()
            .map(|&index| serde_json::json!({ "to": tos[index], "message": texts[index] }).to_string())
            .collect();
        let rows: Vec<NewJob<'_>> = requests
            .iter()
            .map(|request| NewJob {
                instance_id,
                kind: TEXT,
                request,
                send_at,
                due_at,
                now_ms,
                batch_id: Some(&batch_id),
            })
            .collect();
        let max = self.inner.settings.max_waiting;
        let ids = if rows.is_empty() {
            Vec::new()
        } else {
            self.inner
                .store
                .insert_send_batch(instance_id, &rows, max)
                .await
                .map_err(QueueError::from)?
                .ok_or(QueueError::Full(max))?
        };
        self.inner.intake.forget(instance_id);
        self.changed_many(instance_id, &ids, JobStatus::Queued).await;
        if !ids.is_empty() {
            self.lane(instance_id).wake();
        }
        let jobs = accepted
            .iter()
            .zip(&ids)
            .map(|(&index, &job_id)| BatchJob {
                index,
                to: tos[index].clone(),
                job_id,
            })
            .collect::<Vec<_>>();
        Ok(BatchQueued {
            batch_id,
            queued: jobs.len(),
            send_at: crate::clock::rfc3339_ms(due_at),
            jobs,
            rejected,
        })
    }

    /// Cancels the batch's jobs that have not started to go.
    pub async fn cancel_batch(&self, instance_id: &str, batch_id: &str) -> Result<BatchCancelled, BulkError> {
        let unknown = || BulkError::UnknownBatch(batch_id.to_owned());
        if batch_id.is_empty() || batch_id.len() > MAX_BATCH_ID_BYTES {
            return Err(unknown());
        }
        let store = &self.inner.store;
        let now_ms = self.inner.clock.now_ms();
        let ids = store
            .cancel_send_batch(instance_id, batch_id, now_ms)
            .await
            .map_err(QueueError::from)?;
        if ids.is_empty()
            && !store
                .send_batch_exists(instance_id, batch_id)
                .await
                .map_err(QueueError::from)?
        {
            return Err(unknown());
        }
        self.changed_many(instance_id, &ids, JobStatus::Cancelled).await;
        if !ids.is_empty() {
            self.lane(instance_id).wake();
        }
        Ok(BatchCancelled {
            batch_id: batch_id.to_owned(),
            cancelled: ids.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(template: &str, recipients: serde_json::Value) -> BulkRequest {
        serde_json::from_value(serde_json::json!({ "template": template, "recipients": recipients })).unwrap()
    }

    #[test]
    fn each_recipient_gets_its_own_text() {
        let texts = render_all(&request(
            "Hi {{name}}, order {{order}}",
            serde_json::json!([
                { "to": "1", "vars": { "name": "Ann", "order": 42 } },
                { "to": "2", "vars": { "name": "Bo", "order": "7b", "unused": true } },
            ]),
        ))
        .unwrap();
        assert_eq!(texts, ["Hi Ann, order 42", "Hi Bo, order 7b"]);
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_checked() {
        let r = |template: &str, recipients| render_all(&request(template, recipients)).unwrap_err();
        assert!(matches!(r("x", serde_json::json!([])), BulkError::NoRecipients));
        assert!(matches!(
            r("Hi {{name}}", serde_json::json!([{ "to": "1", "vars": { "name": "A" } }, { "to": "2" }])),
            BulkError::MissingVariable { index: 1, ref name, .. } if name == "name"
        ));
        assert!(matches!(
            r("Hi {{name", serde_json::json!([{ "to": "1" }])),
            BulkError::Template(TemplateError::Unterminated(3))
        ));
        assert!(matches!(
            r("{{a}}", serde_json::json!([{ "to": "1", "vars": { "a": " " } }])),
            BulkError::EmptyText { index: 0, .. }
        ));
        let long = "x".repeat(MAX_TEXT_BYTES);
        assert!(matches!(
            r("{{a}}!", serde_json::json!([{ "to": "1", "vars": { "a": long } }])),
            BulkError::TextTooLong { index: 0, len, .. } if len == MAX_TEXT_BYTES + 1
        ));
        assert!(matches!(
            r("{{a}}", serde_json::json!([{ "to": "1", "vars": { "a b": "x" } }])),
            BulkError::InvalidVariable { index: 0, .. }
        ));
        let many: Vec<_> = (0..=MAX_RECIPIENTS).map(|_| serde_json::json!({ "to": "1" })).collect();
        assert!(matches!(r("x", serde_json::json!(many)), BulkError::TooManyRecipients));
    }
}
