//! The kinds of job: the send route whose body a job stores (a `Job`'s
//! `kind`, docs/API.md "Send queue"). The queue's dispatch runs the stored
//! body through that route when the job goes; the HTTP API, bulk sends and
//! plugins' queued sends all name their jobs with these.

pub const TEXT: &str = "text";
pub const MEDIA_URL: &str = "media_url";
pub const LOCATION: &str = "location";
pub const CONTACT: &str = "contact";
pub const POLL: &str = "poll";
