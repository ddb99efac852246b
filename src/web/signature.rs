//! The electronic signature of the web pages' final acts (randomize, withdraw, decide a
//! correction, close a trial): the form states what the signature means and asks for the
//! password again; the handler turns the password into a [`Signer`] before the use case runs.
//! A wrong password counts as a failed sign-in (the same rate limit).

use actix_web::HttpRequest;
use maud::{html, Markup};

use super::form::Fields;
use super::session::WebSession;
use super::templates;
use crate::audit::signature::{Meaning, Signature};
use crate::http::error::ApiError;
use crate::http::extract::note_auth_failure;
use crate::http::state::AppState;
use crate::service::signatures::{self, SignatureError, Signer};

/// The password field of a signature.
pub const FIELD: &str = "signature_password";

/// The signature part of a form: the meaning in words, the password, and what signing means.
pub fn fields(meaning: &Meaning, problem: Option<&str>) -> Markup {
    fields_for("", &[(None, meaning.clone())], problem)
}

/// [`fields`] for a form with several acts (one per button, each `(button label, meaning)`);
/// `suffix` keeps the ids apart when a page has several such forms.
pub fn fields_for(
    suffix: &str,
    meanings: &[(Option<&str>, Meaning)],
    problem: Option<&str>,
) -> Markup {
    let input = format!("{FIELD}{suffix}");
    let hint = format!("signature-hint{suffix}");
    let error = format!("signature-error{suffix}");
    html! {
        fieldset.signature {
            legend { "Electronic signature" }
            p { "By entering your password you sign this statement:" }
            @for (button, meaning) in meanings {
                p.meaning {
                    @if let Some(b) = button { span.button-name { (b) ": " } }
                    q { (meaning.statement()) }
                }
            }
            @if let Some(p) = problem {
                p.field-error id=(error) role="alert" { (p) }
            }
            div.field {
                label for=(input) { "Your password" }
                input id=(input) type="password" name=(FIELD) required
                    autocomplete="current-password" spellcheck="false"
                    aria-describedby=(if problem.is_some() { format!("{error} {hint}") } else { hint.clone() })
                    aria-invalid=[problem.map(|_| "true")];
                p.hint id=(hint) {
                    "Your electronic signature is the legally binding equivalent of your "
                    "handwritten signature. It is recorded with your name, the time and this "
                    "statement in the audit trail."
                }
            }
        }
    }
}

/// A signature as a card or page prints it.
pub fn manifestation(title: &str, s: &Signature) -> Markup {
    html! {
        div.signature-record {
            dt { (title) }
            dd {
                "Signed electronically by " strong { (s.full_name) } " (" (s.name) ") at "
                (templates::when(&s.signed_at)) ": “" (s.meaning) "”"
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
    let password = form.value(FIELD).to_string();
    if password.is_empty() {
        return Err(Refusal::Problem("Enter your password to sign.".to_string()));
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
            _ => Err(Refusal::Problem(
                "The password is not correct; nothing was signed or done.".to_string(),
            )),
        },
        Err(SignatureError::NoFullName) => Err(Refusal::Problem(
            "Your account has no full name to sign with; ask an administrator to add it."
                .to_string(),
        )),
        Err(SignatureError::Storage(e)) => Err(Refusal::Error(e.into())),
        Err(SignatureError::Internal(e)) => Err(Refusal::Error(e.into())),
    }
}
