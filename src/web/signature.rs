//! The electronic signature of the web pages' final acts (randomize, withdraw, decide a
//! correction, close a trial): the form states what the signature means and asks for the
//! password again; the handler turns the password into a [`Signer`] before the use case runs.
//! A wrong password counts as a failed sign-in (the same rate limit).

use actix_web::HttpRequest;
use maud::{html, Markup};

use super::form::Fields;
use super::i18n::{t, ta, Lang};
use super::session::WebSession;
use crate::audit::signature::{Meaning, Signature};
use crate::http::error::ApiError;
use crate::http::extract::note_auth_failure;
use crate::http::state::AppState;
use crate::service::signatures::{self, SignatureError, Signer};

/// The password field of a signature.
pub const FIELD: &str = "signature_password";

/// The signature part of a form: the meaning in words, the password, and what signing means.
pub fn fields(l: Lang, meaning: &Meaning, problem: Option<&str>) -> Markup {
    fields_for(l, "", &[(None, meaning.clone())], problem)
}

/// The statement as the signer reads it; the record keeps the English one, shown beside a
/// translation.
fn statement(l: Lang, meaning: &Meaning) -> String {
    let (key, arg, value) = match meaning {
        Meaning::Randomize { patient_ref } => ("sig-meaning-randomize", "patient", patient_ref),
        Meaning::Withdraw { subject_id } => ("sig-meaning-withdraw", "subject", subject_id),
        Meaning::ApproveCorrection { patient_ref } => {
            ("sig-meaning-approve", "patient", patient_ref)
        }
        Meaning::RejectCorrection { patient_ref } => ("sig-meaning-reject", "patient", patient_ref),
        Meaning::CloseTrial { trial_id } => ("sig-meaning-close", "trial", trial_id),
    };
    ta(l, key, &[(arg, value.as_str().into())])
}

/// [`fields`] for a form with several acts (one per button, each `(button label, meaning)`);
/// `suffix` keeps the ids apart when a page has several such forms.
pub fn fields_for(
    l: Lang,
    suffix: &str,
    meanings: &[(Option<&str>, Meaning)],
    problem: Option<&str>,
) -> Markup {
    let input = format!("{FIELD}{suffix}");
    let hint = format!("signature-hint{suffix}");
    let error = format!("signature-error{suffix}");
    html! {
        fieldset.signature {
            legend { (t(l, "sig-legend")) }
            p { (t(l, "sig-intro")) }
            @for (button, meaning) in meanings {
                p.meaning {
                    @if let Some(b) = button { span.button-name { (b) ": " } }
                    q { (statement(l, meaning)) }
                    @if l != Lang::En { " " span.recorded lang="en" { "(" (meaning.statement()) ")" } }
                }
            }
            @if let Some(p) = problem {
                p.field-error id=(error) role="alert" { (p) }
            }
            div.field {
                label for=(input) { (t(l, "sig-password")) }
                input id=(input) type="password" name=(FIELD) required
                    autocomplete="current-password" spellcheck="false"
                    aria-describedby=(if problem.is_some() { format!("{error} {hint}") } else { hint.clone() })
                    aria-invalid=[problem.map(|_| "true")];
                p.hint id=(hint) { (t(l, "sig-hint")) }
            }
        }
    }
}

/// A signature as a card or page prints it.
pub fn manifestation(l: Lang, title: &str, s: &Signature, shown_at: &str) -> Markup {
    html! {
        div.signature-record {
            dt { (title) }
            dd {
                (t(l, "sig-signed-by")) strong { (s.full_name) } " (" (s.name) ") "
                (t(l, "sig-at")) (shown_at) ": “" span lang="en" { (s.meaning) } "”"
            }
        }
    }
}

/// Why a signature was not made, as the form shows it again.
pub enum Refusal {
    /// The password was wrong, or the account cannot sign: shown next to the field.
    Problem(String),
    /// Too many failures (or a failure of the server): the error page.
    Error(ApiError),
}

/// Checks the form's signature password for the signed-in user.
pub async fn signer(
    req: &HttpRequest,
    state: &actix_web::web::Data<AppState>,
    session: &WebSession,
    form: &Fields,
) -> Result<Signer, Refusal> {
    let ip = crate::http::extract::unblocked_client(state, req).map_err(Refusal::Error)?;
    let l = session.lang;
    let password = form.value(FIELD).to_string();
    if password.is_empty() {
        return Err(Refusal::Problem(t(l, "sig-enter-password")));
    }
    let user = session.user.clone();
    let result = crate::http::extract::run_db(state, move |c| {
        Ok::<_, ApiError>(signatures::authenticate(c, &user, &password))
    })
    .await
    .map_err(Refusal::Error)?;
    match result {
        Ok(signer) => Ok(signer),
        Err(SignatureError::WrongPassword) => match note_auth_failure(state, ip).await {
            e @ ApiError::TooManyRequests { .. } => Err(Refusal::Error(e)),
            _ => Err(Refusal::Problem(t(l, "sig-wrong-password"))),
        },
        Err(SignatureError::NoFullName) => Err(Refusal::Problem(t(l, "sig-no-full-name"))),
        Err(SignatureError::Storage(e)) => Err(Refusal::Error(e.into())),
        Err(SignatureError::Internal(e)) => Err(Refusal::Error(e.into())),
    }
}
