//! Queries per table: the only place the service layer's SQL lives.

pub mod corrections;
pub mod screenings;
pub mod signing_keys;
pub mod sites;
pub mod subjects;
pub mod trials;
pub mod users;
pub mod web_sessions;
