"""The browser forms. Every state change goes through one, so every one carries a CSRF token."""

import re
import secrets

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from . import service
from .labels import ROLE_LABELS, SCOPE_LABELS


def _service_check(clean):
    """Turn a service cleaner into a WTForms validator, so the rule is written once."""
    def validator(form, field):
        try:
            field.data = clean(field.data or "")
        except service.InvalidInput as refusal:
            raise ValidationError(str(refusal)) from None
    return validator


# One email rule for every form (and the CLI): the service's, which accepts private domains such as corp.local.
_EMAIL = [DataRequired(message="Enter an email address."), _service_check(service.clean_email)]


class SignInForm(FlaskForm):
    email = StringField("Email", validators=_EMAIL)
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=_EMAIL)


class ConfirmPasswordForm(FlaskForm):
    """The password typed again before a sensitive action; it rides along with that action's own fields,
    whose CSRF check already ran."""

    class Meta:
        csrf = False

    sudo_password = PasswordField("Your password", validators=[
        DataRequired(message="Enter your password."), Length(max=1024)])


class SetupForm(FlaskForm):
    code = StringField("Setup code", validators=[DataRequired(message="Enter the setup code.")])
    account_name = StringField("Account name", validators=[
        DataRequired(message="Give the account a name."),
        _service_check(lambda v: service.clean_text(v, "The account name"))])
    display_name = StringField("Your name", validators=[
        DataRequired(message="Tell us your name."),
        _service_check(lambda v: service.clean_text(v, "Your name"))])
    email = EmailField("Email", validators=_EMAIL)
    password = PasswordField("Password", validators=[DataRequired(), _service_check(service.clean_password)])
    confirm = PasswordField("Repeat the password", validators=[
        EqualTo("password", message="The two passwords differ.")])

    def validate_code(self, field):
        if not service.check_setup_code(field.data):
            raise ValidationError("This setup code is not the one the server printed at start.")


NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,32}")


class GenerateTokenForm(FlaskForm):
    name = StringField("Token name (optional)", validators=[_service_check(service.clean_token_name)])
    scope = SelectField("Scope", default="read-write", choices=[
        SelectChoice(scope, label) for scope, label in SCOPE_LABELS.items()])
    # 30 days unless the member chooses otherwise (as GitHub and GitLab do); the API and the CLI keep "never".
    expires = SelectField("Expires", default="30", choices=[
        SelectChoice("never", "Never"), *(SelectChoice(str(days), f"In {days} days") for days in service.EXPIRY_DAYS),
        SelectChoice("date", "On a date")])
    expires_on = DateField("Expiry date", validators=[Optional()])
    # One random value per rendered form: the server makes one token per value, whatever the clicks.
    nonce = HiddenField(validators=[DataRequired(), Regexp(NONCE_PATTERN)],
                        default=lambda: secrets.token_urlsafe(16))

    def __init__(self, *args, policy: service.TokenPolicy | None = None, **kwargs):
        """A form for an account with ``policy``: it says the policy and, fresh, offers an expiry it allows."""
        self.policy = policy or service.TokenPolicy()
        if not self.policy.free and "expires" not in kwargs:
            kwargs["expires"] = self.allowed_default()
        super().__init__(*args, **kwargs)

    def allowed_default(self) -> str:
        """Return the usual expiry (30 days) if the policy allows it, else the longest choice it allows."""
        limit = self.policy.max_days
        allowed = [days for days in service.EXPIRY_DAYS if limit is None or days <= limit]
        if 30 in allowed or not allowed:
            return "30"
        return str(allowed[-1])

    def policy_hint(self) -> str | None:
        """Say the account's policy under the Expiry field, when it has one."""
        return None if self.policy.free else f"This account's policy: {self.policy.describe()}."

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # An empty date stops the field's own validators (Optional), so the form asks for it here.
        if self.expires.data == "date" and self.expires_on.data is None and not self.expires_on.errors:
            self.expires_on.errors = ["Choose the date the token expires on."]
            return False
        return valid

    def validate_expires_on(self, field):
        if self.expires.data != "date":
            return
        try:
            service.check_expiry(service.expiry(on=field.data))
        except service.InvalidInput as refusal:
            raise ValidationError(str(refusal)) from None

    def expires_at(self):
        """Return when the token expires, as chosen."""
        if self.expires.data == "date":
            return service.expiry(on=self.expires_on.data)
        return service.expiry(int(self.expires.data)) if self.expires.data.isdigit() else None


# 24 hours unless chosen otherwise (Stripe keeps the old key working by default too): most rotations are
# routine, and a grace of a day lets the programs using the token move to the new one without an outage,
# while the old one still stops on its own the next day. "None" is one click away for a token that leaked.
DEFAULT_GRACE = 24 * 3600


class GraceForm(FlaskForm):
    """How long the old one keeps working beside its replacement: a token rotated (this), a signing secret."""

    old = "token"
    grace = RadioField("Keep the old token working for", coerce=int, default=DEFAULT_GRACE,
                       choices=[SelectChoice(seconds, label) for seconds, label in service.GRACE_CHOICES.items()])

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if self.grace.errors:  # WTForms' own words ("Invalid Choice: could not coerce.") say the choices instead
            self.grace.errors = [f"Choose how long the old {self.old} keeps working: "
                                 f"{', '.join(choice.label for choice in self.grace.choices)}."]
        return valid

    def grace_period(self):
        """Return the grace chosen."""
        return service.clean_grace(self.grace.data)


class RollSecretForm(GraceForm):
    old = "secret"
    grace = RadioField("Keep signing with the old secret too for", coerce=int, default=DEFAULT_GRACE, choices=[
        SelectChoice(seconds, label)
        for seconds, label in service.grace_choices("every old secret stops at once").items()])
    seen = HiddenField()  # the secret the page was shown with (service.secret_version)


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), _service_check(service.clean_password)])
    confirm = PasswordField("Repeat the new password", validators=[
        EqualTo("password", message="The two passwords differ.")])


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(message="Enter your current password.")])


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=_EMAIL)
    role = SelectField("Role", default="member", choices=[
        SelectChoice(role, ROLE_LABELS[role]) for role in ("member", "admin", "owner")])


class JoinForm(FlaskForm):
    """Joining from an invitation link, signed out: one form whether or not the email already signs in here.

    Its rules are the same for everyone, so that what it refuses tells nothing about the email. The password is
    a new one or, for an email that signs in here already, its password; the service applies the rules of new
    passwords to both.
    """
    display_name = StringField("Your name", validators=[
        DataRequired(message="Tell us your name."),
        _service_check(lambda v: service.clean_text(v, "Your name"))])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=service.PASSWORD_MAX)])
    confirm = PasswordField("Repeat the password", validators=[
        EqualTo("password", message="The two passwords differ.")])


class PolicyForm(FlaskForm):
    """The account's token policy, as its owners set it on the Members page."""

    max_days = SelectField("Longest lifetime", default="none", choices=[
        SelectChoice("none", "No limit"), *(SelectChoice(str(days), f"{days} days") for days in service.POLICY_DAYS)])
    must_expire = BooleanField("Every token must expire")

    def days(self) -> int | None:
        """Return the longest lifetime chosen, in days (None: no limit)."""
        return int(self.max_days.data) if self.max_days.data.isdigit() else None


class LeakReportForm(FlaskForm):
    """Token values someone found (one per line), to be deleted wherever they are tokens of this portal."""

    values = TextAreaField("Token values")

    def validate_values(self, field):
        try:
            service.clean_reported(self.reported())
        except service.InvalidInput:
            raise ValidationError(f"Paste 1 to {service.MAX_REPORTED} token values, one per line.") from None

    def reported(self) -> list[str]:
        """Return the values pasted, one a line, blank lines left out."""
        return service.values_in(self.values.data or "")


class WebhookForm(FlaskForm):
    """A webhook: where to send, and which events (the service checks the URL, so that the API would too)."""
    url = StringField("Payload URL", validators=[DataRequired(message="Give the URL the events are sent to.")])
    events = SelectMultipleField(
        "Events to send", choices=[SelectChoice(event, label) for event, label in service.WEBHOOK_EVENTS.items()],
        default=list(service.WEBHOOK_EVENTS),
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validate_choice=False,  # the service's check says what is wrong, once
        validators=[_service_check(service.clean_webhook_events)])
