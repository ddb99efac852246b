//! Thin handlers: authenticate, find the trial, call one use case, shape the response.

pub mod audit;
pub mod corrections;
pub mod log;
pub mod ops;
pub mod screenings;
pub mod sites;
pub mod subjects;
pub mod trials;
pub mod users;

use actix_web::web;

use super::state::AppState;
use crate::http::error::ApiError;
use crate::service::TrialRuntime;

pub(crate) fn trial(
    state: &web::Data<AppState>,
    id: &str,
) -> Result<std::sync::Arc<TrialRuntime>, ApiError> {
    Ok(state.trials.get(id)?)
}
