//! Shapes of response bodies that are built as JSON values rather than serialised from a
//! view type (the exports, this API's own document), declared here so the OpenAPI document
//! describes their fields; and the health body.

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::views::{Allocation, AuditHead, Balance, ScreeningView, TrialDetail};

/// `GET /healthz`. A struct keeps api.md's field order (a `json!` map would sort it).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` (503)
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    /// `ok`, or `unreachable` (503)
    #[schema(value_type = String, example = "ok")]
    pub database: &'static str,
}

/// The OpenAPI 3.1 document (see the OpenAPI specification for its full schema).
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenApiDocument {
    /// The OpenAPI version, `3.1.0`.
    pub openapi: String,
    #[schema(value_type = Object)]
    pub info: serde_json::Value,
    /// Every operation, by path.
    #[schema(value_type = Object)]
    pub paths: serde_json::Value,
    #[schema(value_type = Object)]
    pub components: serde_json::Value,
}

/// `export?format=json`: everything about the trial, as a monitor sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrialExport {
    pub trial: TrialDetail,
    pub subjects: Vec<ExportedSubject>,
    /// Every screening, superseded ones and corrections included.
    pub screenings: Vec<ScreeningView>,
    /// Deviations recorded by approved corrections.
    pub deviations: Vec<crate::service::corrections::DeviationView>,
    pub balance: Balance,
    pub audit_head: AuditHead,
    pub exported_at: String,
}

/// A subject in the JSON export: its allocation and its place in its stratum's schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSubject {
    #[serde(flatten)]
    pub allocation: Allocation,
    pub screening_id: String,
    pub stratum_key: String,
    /// 0-based position among the stratum's allocations.
    pub stratum_position: i64,
    /// Only after the seed is revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_index: Option<i64>,
    /// Only after the seed is revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<i64>,
}

/// `export?format=fhir`: a FHIR R4 `Bundle` of type `collection`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FhirBundle {
    /// `Bundle`
    pub resource_type: String,
    /// `collection`
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    /// The `ResearchStudy`, then one `ResearchSubject` per subject.
    pub entry: Vec<FhirEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FhirEntry {
    /// `urn:uuid:…`
    pub full_url: String,
    pub resource: FhirResource,
}

/// A FHIR R4 `ResearchStudy` or `ResearchSubject` (their other fields as FHIR defines them).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FhirResource {
    /// `ResearchStudy` or `ResearchSubject`
    pub resource_type: String,
    pub id: String,
    pub status: String,
}
