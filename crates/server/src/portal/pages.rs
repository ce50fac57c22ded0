//! The portal's HTML, rendered on the server (maud escapes every value). Pages work without
//! JavaScript; `portal.js` only adds the dialog, copy buttons and confirmations.

use axum::response::Html;
use brandstream_store::{
    AuditEvent, ClientRecord, ClientStatus, DocumentRecord, FieldRecord, KitRecord, Membership,
    RunRecord, SectionRecord, UserRecord,
};
use maud::{html, Markup, DOCTYPE};

use super::session::PortalUser;

/// The warning shown with every new secret.
pub const SECRET_WARNING: &str = "The Client Secret is displayed only once and cannot be retrieved later. If lost, you must generate a new authentication client.";

fn date(seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        Err(_) => String::new(),
    }
}

/// The page frame: head, navigation (when signed in), main content.
pub fn layout(title: &str, user: Option<&PortalUser>, body: Markup) -> Html<String> {
    layout_refreshing(title, user, body, None)
}

/// The page frame, reloading itself every `refresh` seconds (live run status without
/// JavaScript).
pub fn layout_refreshing(
    title: &str,
    user: Option<&PortalUser>,
    body: Markup,
    refresh: Option<u32>,
) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Brandstream" }
                link rel="icon" href="data:,";
                @if let Some(seconds) = refresh {
                    meta http-equiv="refresh" content=(seconds);
                }
                link rel="stylesheet" href="/portal/assets/portal.css";
                script src="/portal/assets/portal.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/portal" { "Brandstream" }
                    @if let Some(user) = user {
                        nav aria-label="Main" {
                            @if user.is_admin() {
                                a href="/portal/admin/keys" { "Brand Kit keys" }
                                a href="/portal/admin/members" { "Members" }
                                a href="/portal/admin/audit" { "Audit" }
                            }
                            a href="/portal/kits" { "Brand kits" }
                        }
                        div.account {
                            @if user.memberships.len() > 1 {
                                form method="post" action="/portal/org" {
                                    input type="hidden" name="csrf" value=(user.csrf());
                                    label for="org-switch" { "Organisation" }
                                    select id="org-switch" name="org" data-autosubmit {
                                        @for membership in &user.memberships {
                                            option value=(membership.org_id.as_str()) selected[membership.org_id == user.org] {
                                                (membership.org_id.as_str())
                                            }
                                        }
                                    }
                                    button type="submit" { "Switch" }
                                }
                            } @else {
                                span.org { (user.org.as_str()) }
                            }
                            span.user { (user.user.username) " (" (user.role) ")" }
                            form method="post" action="/portal/logout" {
                                input type="hidden" name="csrf" value=(user.csrf());
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// A page with a heading and one message.
pub fn message_page(title: &str, message: &str) -> Html<String> {
    layout(
        title,
        None,
        html! { h1 { (title) } p { (message) } p { a href="/portal" { "Back to the portal" } } },
    )
}

/// The sign-in form.
pub fn login(csrf: &str, error: Option<&str>, username: &str) -> Html<String> {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                form method="post" action="/portal/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="username" { "Username" }
                    input id="username" name="username" autocomplete="username" required value=(username);
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button.primary type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// The first administrator's form, reached through the one-time setup link.
pub fn setup(csrf: &str, token: &str, error: Option<&str>, username: &str) -> Html<String> {
    layout(
        "Set up the portal",
        None,
        html! {
            section.card.narrow {
                h1 { "Set up the portal" }
                p { "Choose the first administrator's username and password. This link works once." }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                form method="post" action="/portal/setup" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="token" value=(token);
                    label for="username" { "Username" }
                    input id="username" name="username" autocomplete="username" required value=(username);
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="new-password" required;
                    label for="confirm" { "Password, again" }
                    input id="confirm" name="confirm" type="password" autocomplete="new-password" required;
                    button.primary type="submit" { "Create the administrator" }
                }
            }
        },
    )
}

fn status(client: &ClientRecord) -> &'static str {
    match client.status {
        ClientStatus::Active => "Active",
        ClientStatus::Revoked => "Revoked",
    }
}

/// The Create New Client form (inside the dialog, and as a page without JavaScript).
pub fn create_form(user: &PortalUser, error: Option<&str>) -> Markup {
    html! {
        form.create method="post" action="/portal/admin/keys" {
            input type="hidden" name="csrf" value=(user.csrf());
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            label for="label" { "Label" }
            input id="label" name="label" required maxlength="100";
            label for="description" { "Description (optional)" }
            textarea id="description" name="description" maxlength="500" {}
            fieldset {
                legend { "Scopes" }
                @for scope in ["ai.org.brd:r", "ai.org.brd:w", "ai.org.docs:r", "ai.org.docs:w", "ai.org:admin"] {
                    label.check {
                        input type="checkbox" name="scope" value=(scope) checked;
                        " " (scope)
                    }
                }
            }
            label for="expires_in" { "Token lifetime (seconds)" }
            input id="expires_in" name="expires_in" type="number" min="60" max="2592000" value="86400";
            div.actions {
                button.primary type="submit" { "Create" }
                a.button href="/portal/admin/keys" data-close-dialog { "Cancel" }
            }
        }
    }
}

/// Admin → Brand Kit keys.
pub fn keys(user: &PortalUser, clients: &[ClientRecord]) -> Html<String> {
    layout(
        "Brand Kit keys",
        Some(user),
        html! {
            div.heading {
                h1 { "Brand Kit keys" }
                a.button.primary href="/portal/admin/keys/new" data-open-dialog="create-dialog" { "Create credential" }
            }
            p { "Credentials let scripts and services call the Stream APIs: exchange the Client ID and Client Secret at " code { "/oauth/token" } " for an access token." }
            @if clients.is_empty() {
                p.empty { "No credentials yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr {
                            th scope="col" { "Label" } th scope="col" { "Description" } th scope="col" { "Client ID" }
                            th scope="col" { "Scopes" } th scope="col" { "Created" } th scope="col" { "Last used" }
                            th scope="col" { "Status" } th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for client in clients {
                                tr data-client-id=(client.client_id.as_str()) {
                                    td { (client.label) }
                                    td { (client.description) }
                                    td { code { (client.client_id.as_str()) } }
                                    td { (client.scopes.names().join(" ")) }
                                    td { (date(client.created_at)) }
                                    td { (client.last_used_at.map(date).unwrap_or_else(|| "never".into())) }
                                    td { (status(client)) }
                                    td.row-actions {
                                        @if client.status == ClientStatus::Active {
                                            form method="post" action={ "/portal/admin/keys/" (client.client_id.as_str()) "/rotate" } {
                                                input type="hidden" name="csrf" value=(user.csrf());
                                                button type="submit" data-confirm="Create a new secret for this credential? The current secret keeps working until you revoke the credential." { "Rotate secret" }
                                            }
                                            form method="post" action={ "/portal/admin/keys/" (client.client_id.as_str()) "/revoke" } {
                                                input type="hidden" name="csrf" value=(user.csrf());
                                                button.danger type="submit" data-confirm={ "Revoke " (client.label) "? Its secrets and tokens stop working at once. This cannot be undone." } { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            dialog id="create-dialog" aria-labelledby="create-title" {
                h2 id="create-title" { "Create New Client" }
                (create_form(user, None))
            }
        },
    )
}

/// The Create New Client form as its own page (no JavaScript, or after a validation error).
pub fn new_key(user: &PortalUser, error: Option<&str>) -> Html<String> {
    layout(
        "Create New Client",
        Some(user),
        html! {
            section.card.narrow {
                h1 { "Create New Client" }
                (create_form(user, error))
            }
        },
    )
}

/// The one time a secret is shown.
pub fn secret(user: &PortalUser, heading: &str, client_id: &str, secret: &str) -> Html<String> {
    layout(
        heading,
        Some(user),
        html! {
            section.card.narrow.secret-card {
                h1 { (heading) }
                p.warning role="alert" { (SECRET_WARNING) }
                label for="client-id" { "Client ID" }
                div.copy-row {
                    input id="client-id" readonly value=(client_id);
                    button type="button" data-copy="client-id" { "Copy" }
                }
                label for="client-secret" { "Client Secret" }
                div.copy-row {
                    input id="client-secret" readonly value=(secret);
                    button type="button" data-copy="client-secret" { "Copy" }
                }
                form method="get" action="/portal/admin/keys" {
                    button.primary type="submit" { "Done" }
                }
            }
        },
    )
}

/// The audit trail of the organisation.
pub fn audit(user: &PortalUser, events: &[AuditEvent]) -> Html<String> {
    layout(
        "Audit",
        Some(user),
        html! {
            h1 { "Audit" }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Credential" } th scope="col" { "By" } th scope="col" { "From" } } }
                    tbody {
                        @for event in events {
                            tr {
                                td { (date(event.at)) }
                                td { (event.kind) }
                                td { code { (event.client_id.as_deref().unwrap_or("")) } }
                                td { (event.actor) }
                                td { (event.source_address.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The organisation's brand kits, with a form to create one.
pub fn kits(user: &PortalUser, kits: &[KitRecord], error: Option<&str>) -> Html<String> {
    layout(
        "Brand kits",
        Some(user),
        html! {
            h1 { "Brand kits" }
            form.inline-form method="post" action="/portal/kits" {
                input type="hidden" name="csrf" value=(user.csrf());
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                label for="kit-name" { "Name" }
                div.copy-row {
                    input id="kit-name" name="name" required maxlength="200";
                    button.primary type="submit" { "Create kit" }
                }
            }
            @if kits.is_empty() {
                p.empty { "No brand kits yet." }
            } @else {
                ul.kits {
                    @for kit in kits {
                        li {
                            a href={ "/portal/kits/" (kit.id) } { strong { (kit.name) } }
                            " — " (kit.status)
                            @if kit.locked { " (locked)" }
                            @if let Some(description) = &kit.description { p { (description) } }
                        }
                    }
                }
            }
        },
    )
}

/// A knowledge chunk a subsection cites.
pub struct SourceView {
    /// "p. N — heading".
    pub label: String,
    /// The start of its text.
    pub excerpt: String,
}

/// One subsection as shown on the kit page.
pub struct FieldView {
    /// The record.
    pub field: FieldRecord,
    /// Its first references.
    pub sources: Vec<SourceView>,
}

/// Everything the kit page shows.
pub struct KitView<'a> {
    /// The kit.
    pub kit: &'a KitRecord,
    /// Sections with their subsections.
    pub sections: Vec<(SectionRecord, Vec<FieldView>)>,
    /// The kit's documents.
    pub documents: Vec<DocumentRecord>,
    /// Recent runs.
    pub runs: Vec<RunRecord>,
    /// A problem to show.
    pub error: Option<String>,
}

fn value_markup(value: &serde_json::Value) -> Markup {
    use serde_json::Value;
    match value {
        Value::String(text) if text.is_empty() => html! { p.empty { "Empty" } },
        Value::String(text) => html! { p.value { (text) } },
        Value::Array(items) if items.is_empty() => html! { p.empty { "Empty" } },
        Value::Array(items) => html! {
            ul.value {
                @for item in items {
                    li {
                        @if let Some(term) = item.get("term").and_then(Value::as_str) {
                            (term) " " span.muted { "(" (item.get("locale").and_then(Value::as_str).unwrap_or("")) ")" }
                        } @else {
                            (item.get("name").and_then(Value::as_str).unwrap_or(""))
                            @if let Some(tags) = item.get("tags").and_then(Value::as_array).filter(|t| !t.is_empty()) {
                                " " span.muted { "[" (tags.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) "]" }
                            }
                            @if let Some(restrictions) = item.get("restrictions").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                                " " span.muted { "— " (restrictions) }
                            }
                        }
                    }
                }
            }
        },
        other => html! { p.value { (other.to_string()) } },
    }
}

/// The value as editable text: the text itself, or one entry per line.
fn value_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                item.get("name")
                    .or_else(|| item.get("term"))
                    .and_then(Value::as_str)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A brand kit: documents, runs and every subsection with its value and sources.
pub fn kit(user: &PortalUser, view: &KitView<'_>) -> Html<String> {
    let kit = view.kit;
    let active = view
        .runs
        .iter()
        .any(|run| matches!(run.status.as_str(), "Queued" | "InProgress" | "Canceling"));
    let base = format!("/portal/kits/{}", kit.id);
    layout_refreshing(
        &kit.name,
        Some(user),
        html! {
            p { a href="/portal/kits" { "← Brand kits" } }
            div.heading {
                h1 { (kit.name) }
                form method="post" action={ (base) "/lock" } {
                    input type="hidden" name="csrf" value=(user.csrf());
                    input type="hidden" name="locked" value=(if kit.locked { "false" } else { "true" });
                    button type="submit" { (if kit.locked { "Unlock kit" } else { "Lock kit" }) }
                }
            }
            p.muted { "Status: " (kit.status) @if kit.locked { " · locked: nothing in it can change" } }
            @if let Some(error) = &view.error {
                p.error role="alert" { (error) }
            }
            section.card {
                h2 { "Documents" }
                form method="post" action={ (base) "/documents" } enctype="multipart/form-data" data-upload {
                    input type="hidden" name="csrf" value=(user.csrf());
                    label for="document" { "Document" }
                    div.copy-row {
                        input id="document" name="file" type="file" required accept=".pdf,.docx,.html,.htm,.md,.markdown,.txt";
                        button type="submit" { "Upload" }
                    }
                    progress hidden max="100" value="0" aria-label="Upload progress" {}
                }
                @if view.documents.is_empty() {
                    p.empty { "No documents yet: upload brand guidelines (PDF, DOCX, HTML, Markdown or text)." }
                } @else {
                    div.table-wrap {
                        table {
                            thead { tr { th scope="col" { "Title" } th scope="col" { "Type" } th scope="col" { "Status" } th scope="col" { "Pages" } th scope="col" { "Summary" } } }
                            tbody {
                                @for document in &view.documents {
                                    tr {
                                        td { (document.title) }
                                        td { (document.file_type) }
                                        td { (document.status) @if !document.message.is_empty() { br; span.error { (document.message) } } }
                                        td { (document.number_of_pages) }
                                        td { (document.summary.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action={ (base) "/ingest" } {
                        input type="hidden" name="csrf" value=(user.csrf());
                        button.primary type="submit" { "Start ingestion" }
                    }
                }
            }
            section.card {
                h2 { "Runs" }
                @if view.runs.is_empty() {
                    p.empty { "No runs yet." }
                } @else {
                    div.table-wrap {
                        table {
                            thead { tr { th scope="col" { "Pipeline" } th scope="col" { "Status" } th scope="col" { "Progress" } th scope="col" { "Message" } } }
                            tbody {
                                @for run in &view.runs {
                                    tr {
                                        td { (run.pipeline_id) }
                                        td.run-status { (run.status) }
                                        td {
                                            (run.progress.get("stage").and_then(|v| v.as_str()).unwrap_or(""))
                                            " " (run.progress.get("documentsDone").and_then(serde_json::Value::as_i64).unwrap_or(0))
                                            "/" (run.progress.get("documentsTotal").and_then(serde_json::Value::as_i64).unwrap_or(0))
                                        }
                                        td { (run.message) }
                                    }
                                }
                            }
                        }
                    }
                    @if active { p.muted { "This page refreshes while a run is active." } }
                }
            }
            @for (section, fields) in &view.sections {
                section.card {
                    h2 { (section.name) }
                    @if fields.is_empty() { p.empty { "No subsections." } }
                    @for view in fields {
                        article.field {
                            h3 { (view.field.name) " " span.muted { "(" (view.field.field_type) @if !view.field.ai_editable { ", edited by a person" } ")" } }
                            (value_markup(&view.field.value))
                            @if !view.sources.is_empty() {
                                details.sources {
                                    summary { "Sources (" (view.sources.len()) ")" }
                                    ul {
                                        @for source in &view.sources {
                                            li { strong { (source.label) } blockquote { (source.excerpt) } }
                                        }
                                    }
                                }
                            }
                            @if !kit.locked {
                                details {
                                    summary { "Edit " (view.field.name) }
                                    form method="post" action={ (base) "/sections/" (section.id) "/fields/" (view.field.id) } {
                                        input type="hidden" name="csrf" value=(user.csrf());
                                        label for={ "value-" (view.field.id) } {
                                            @if view.field.field_type == "text" { "Value" } @else { "One entry per line" }
                                        }
                                        textarea id={ "value-" (view.field.id) } name="value" rows="5" { (value_text(&view.field.value)) }
                                        p.muted { "Saving marks the value as edited by a person: ingestion will not overwrite it." }
                                        button type="submit" { "Save" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
        active.then_some(2),
    )
}

/// Admin → Members.
pub fn members(
    user: &PortalUser,
    members: &[(UserRecord, Membership)],
    error: Option<&str>,
) -> Html<String> {
    layout(
        "Members",
        Some(user),
        html! {
            h1 { "Members" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "User" } th scope="col" { "Role" } th scope="col" { "Since" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for (member, membership) in members {
                            tr data-username=(member.username) {
                                td { (member.username) @if member.must_change { " " span.muted { "(invited)" } } }
                                td { (membership.role) }
                                td { (date(membership.created_at)) }
                                td.row-actions {
                                    @if member.id != user.user.id {
                                        form method="post" action={ "/portal/admin/members/" (member.id) "/role" } {
                                            input type="hidden" name="csrf" value=(user.csrf());
                                            label.visually-hidden for={ "role-" (member.id) } { "Role of " (member.username) }
                                            select id={ "role-" (member.id) } name="role" {
                                                @for role in ["admin", "member"] {
                                                    option value=(role) selected[membership.role == role] { (role) }
                                                }
                                            }
                                            button type="submit" { "Change role" }
                                        }
                                        form method="post" action={ "/portal/admin/members/" (member.id) "/remove" } {
                                            input type="hidden" name="csrf" value=(user.csrf());
                                            button.danger type="submit" data-confirm={ "Remove " (member.username) " from this organisation?" } { "Remove" }
                                        }
                                    } @else {
                                        span.muted { "you" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card.narrow {
                h2 { "Invite a member" }
                form method="post" action="/portal/admin/members" {
                    input type="hidden" name="csrf" value=(user.csrf());
                    label for="invite-username" { "Username" }
                    input id="invite-username" name="username" required minlength="3" maxlength="64" autocomplete="off";
                    label for="invite-role" { "Role" }
                    select id="invite-role" name="role" {
                        option value="member" selected { "member" }
                        option value="admin" { "admin" }
                    }
                    div.actions { button.primary type="submit" { "Invite" } }
                }
            }
        },
    )
}

/// The one time an invited user's password is shown.
pub fn invited(user: &PortalUser, username: &str, password: &str) -> Html<String> {
    layout(
        "Member invited",
        Some(user),
        html! {
            section.card.narrow.secret-card {
                h1 { "Member invited" }
                p.warning role="alert" { "This one-time password is displayed only once. Give it to " (username) " securely; they must choose their own password when they first sign in." }
                label for="invite-password" { "One-time password for " (username) }
                div.copy-row {
                    input id="invite-password" readonly value=(password);
                    button type="button" data-copy="invite-password" { "Copy" }
                }
                form method="get" action="/portal/admin/members" {
                    button.primary type="submit" { "Done" }
                }
            }
        },
    )
}

/// Choose a new password (required after a one-time password).
pub fn password(user: &PortalUser, error: Option<&str>) -> Html<String> {
    layout(
        "Choose a password",
        Some(user),
        html! {
            section.card.narrow {
                h1 { "Choose a password" }
                @if user.user.must_change {
                    p { "You signed in with a one-time password. Choose your own to continue." }
                }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                form method="post" action="/portal/password" {
                    input type="hidden" name="csrf" value=(user.csrf());
                    label for="new-password" { "New password (at least 10 characters)" }
                    input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="10";
                    label for="confirm-password" { "Repeat the new password" }
                    input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required minlength="10";
                    div.actions { button.primary type="submit" { "Save password" } }
                }
            }
        },
    )
}
