"""`create_local_user`: one command gives a local user who may steer orchestrators, and its API token."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

# Starting and steering, reading the audit trail and managing webhooks in the admin; nothing else, so
# the local user is not a superuser.
GRANTED = (("api", "control_orchestrator"), ("api", "start_orchestrator"), ("api", "view_auditentry"),
           *(("notifications", f"{action}_webhook") for action in ("add", "change", "delete", "view")),
           ("notifications", "view_delivery"), ("notifications", "view_attempt"))


class Command(BaseCommand):
    help = (
        "Create (or reuse) a staff user with the permissions to start and control orchestrators and print "
        "its API token. Without --password a new user gets a generated password, printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="local")
        parser.add_argument("--password", help="Set this password (checked by the password validators).")
        parser.add_argument("--token-only", action="store_true", help="Print only the token (for scripts).")

    @transaction.atomic
    def handle(self, *args, username, password, token_only, **options):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(**{user_model.USERNAME_FIELD: username})
        generated = None
        if password is None and created:
            generated = password = secrets.token_urlsafe(16)
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
            user.set_password(password)
        user.is_staff = True
        user.save()
        user.user_permissions.add(
            *(Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in GRANTED)
        )
        token, _ = Token.objects.get_or_create(user=user)

        if token_only:
            self.stdout.write(token.key)
            return
        self.stdout.write(f"User {username!r} {'created' if created else 'updated'}: staff, may start and control orchestrators.")
        if generated:
            self.stdout.write(f"Password (shown once, for the browsable API and the admin): {generated}")
        self.stdout.write(f"Token: {token.key}")
        self.stdout.write(f'Use it as:  curl -H "Authorization: Token {token.key}" ...')
