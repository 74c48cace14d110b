"""The header vocabulary: the names and phrases people give each concept's column, in
English and Italian first, as data; yes/no words; time zones by country."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Header vocabulary

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_E_MAIL = re.compile(r"\be[\W_]*mail\b")
_WORD = re.compile(r"[a-z0-9]+")


def header_words(text: str) -> tuple[str, ...]:
    """A header as plain ASCII words: case, accents, camelCase and punctuation do not matter."""
    text = unicodedata.normalize("NFKD", _CAMEL.sub(" ", text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return tuple(_WORD.findall(_E_MAIL.sub("email", text)))


@dataclass(frozen=True)
class Concept:
    """What a column holds, the names it goes by, and where each target stores it.

    `exact`: whole-header names, best first, `|`-separated (compared without spaces).
    `contains`: `|`-separated rules of `+`-joined phrases that must all appear in a header.
    """

    name: str
    exact: str
    contains: str = ""
    notifuse: str | None = None
    minimo: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple("".join(header_words(n)) for n in self.exact.split("|"))

    @property
    def rules(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(r.split("+")) for r in self.contains.split("|") if r)


_CONSENT = "newsletter|consenso|consent|marketing|opt in|optin|gdpr"

# Order matters only for headers matched by a phrase they contain: the first concept wins, so
# "Email consent" is a consent, "Email azienda" an email, "Telefono ufficio" a phone.
CONCEPTS = (
    Concept(
        "whatsapp_consent",
        "consenso whatsapp|whatsapp consent|whatsapp opt in|marketing whatsapp",
        "|".join(f"whatsapp+{w}" for w in _CONSENT.split("|")),
        minimo="marketingConsent.whatsapp",
    ),
    Concept(
        "consent",
        "newsletter|consenso newsletter|newsletter consent|iscrizione newsletter|"
        "consenso marketing|marketing consent|email consent|consenso email|consenso|consent|"
        "marketing|opt in|email opt in|accepts marketing|subscribed|privacy consent|"
        "consenso privacy|gdpr",
        _CONSENT,
        minimo="marketingConsent.email",
    ),
    Concept(
        "email",
        "email|email address|indirizzo email|posta elettronica|indirizzo di posta elettronica|"
        "mail|email addr|correo electronico|courriel|adresse email",
        "email|mail|posta elettronica",
        notifuse="email",
        minimo="email",
    ),
    Concept(
        "phone",
        # mobiles first: both APIs are used to reach people on their phones
        "cellulare|mobile|mobile phone|mobile number|cell|cell phone|numero di cellulare|"
        "numero cellulare|telefono cellulare|whatsapp|numero whatsapp|phone|phone number|"
        "telephone|telefono|numero di telefono|numero telefono|tel|telefon|handy",
        "cellulare|mobile|cell|cellphone|whatsapp|phone|telephone|telefono|tel|telefon",
        notifuse="phone",
        minimo="phone",
    ),
    Concept(
        "full_name",
        "full name|nome completo|name|nome e cognome|nominativo|contact name",
        "full name|nome completo|nominativo",
        notifuse="full_name",
        minimo="customFields.name",
    ),
    Concept(
        "first_name",
        "first name|nome|given name|forename|prenom|nombre|vorname",
        "first name|given name",
        notifuse="first_name",
        minimo="customFields.firstName",
    ),
    Concept(
        "last_name",
        "last name|cognome|surname|family name|nom|apellidos|nachname",
        "last name|cognome|surname|family name",
        notifuse="last_name",
        minimo="customFields.lastName",
    ),
    Concept(
        "company",
        "company|azienda|societa|ragione sociale|company name|nome azienda|organization|"
        "organisation|organizzazione|ditta|impresa|employer|entreprise|empresa|firma",
        "company|azienda|societa|ragione sociale|organization|organisation|organizzazione|"
        "ditta|impresa|employer",
        minimo="customFields.company",
    ),
    Concept(
        "address_line_2",
        "address line 2|address 2|indirizzo 2",
        notifuse="address_line_2",
        minimo="customFields.address2",
    ),
    Concept(
        "address_line_1",
        "address|indirizzo|street|street address|address line 1|address 1|indirizzo 1|via|"
        "adresse|direccion|strasse",
        "address|indirizzo|street",
        notifuse="address_line_1",
        minimo="customFields.address",
    ),
    Concept(
        "postcode",
        "postcode|post code|postal code|zip|zip code|cap|codice postale|plz|code postal|"
        "codigo postal",
        "postcode|postal code|zip|cap|codice postale",
        notifuse="postcode",
        minimo="customFields.postcode",
    ),
    Concept(
        "city",
        "city|citta|comune|localita|town|ville|ciudad|stadt|ort",
        "city|citta|comune|localita|town",
        minimo="customFields.city",
    ),
    Concept(
        "state",
        "state|province|provincia|region|regione|county",
        "provincia|province|regione",
        notifuse="state",
        minimo="customFields.state",
    ),
    Concept(
        "country",
        "country|paese|nazione|country code|pays|pais|land",
        "country|paese|nazione",
        notifuse="country",
        minimo="customFields.country",
    ),
    Concept(
        "job_title",
        "job title|ruolo|qualifica|posizione|position|role|mansione|job|occupation|"
        "professione|carica",
        "job title|ruolo|qualifica|mansione|professione",
        notifuse="job_title",
        minimo="customFields.jobTitle",
    ),
    Concept(
        "language",
        "language|lingua|lang|locale|idioma|langue|sprache",
        "language|lingua",
        notifuse="language",
        minimo="customFields.language",
    ),
    Concept(
        "timezone",
        "timezone|time zone|tz|fuso orario",
        "timezone|time zone|fuso orario",
        notifuse="timezone",
        minimo="customFields.timezone",
    ),
    Concept(
        "external_id",
        "id|customer id|codice cliente|client id|id cliente|contact id|external id|"
        "customer number|numero cliente|customer code|crm id|cod cliente|record id",
        "customer id|codice cliente|id cliente|external id",
        notifuse="external_id",
        minimo="customFields.externalId",
    ),
)
BY_NAME = {c.name: c for c in CONCEPTS}
NAMES = {c.name: c.names for c in CONCEPTS}
RULES = {c.name: c.rules for c in CONCEPTS}

# A header with one of these words names a date (e.g. "Data iscrizione newsletter"): only a
# whole-header name may match it, never a phrase it contains.
DATE_WORDS = frozenset(["data", "date", "giorno", "il", "on", "at", "quando", "when", "ora"])

# Header words of identifiers: kept as text whatever their cells look like (KdNr, a customer
# number in a German CRM, would lose its leading zeros as a number).
IDENTIFIER_WORDS = frozenset(
    [
        "id",
        "kdnr",
        "kundennr",
        "kundennummer",
        "nr",
        "no",
        "num",
        "numero",
        "nummer",
        "number",
        "code",
        "codice",
        "cod",
        "matricola",
        "plz",
        "cap",
        "zip",
        "postcode",
        "postal",
        "piva",
        "vat",
        "ust",
        "ustid",
        "iban",
        "sku",
        "ref",
    ]
)
YES_WORDS = frozenset(["true", "yes", "y", "1", "x", "si", "oui", "ja", "vero", "ok"])
NO_WORDS = frozenset(["false", "no", "n", "0", "non", "nein", "falso"])

TIMEZONES = {
    "IT": "Europe/Rome",
    "SM": "Europe/San_Marino",
    "VA": "Europe/Vatican",
    "CH": "Europe/Zurich",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "GB": "Europe/London",
    "AT": "Europe/Vienna",
}
