"""Countries as people write them → ISO 3166-1 alpha-2 codes (SPEC §4).

From maintained data, not a hand-written table: pycountry (the ISO codes, alpha-2 and
alpha-3; English names, official and common names, and their Italian, French, German and
Spanish translations, from Debian's iso-codes) and phonenumbers' own region names (CLDR's
common names in the same languages, former ones included: "Turkey", "Swaziland", "Cape
Verde"). Names match ignoring case, accents, punctuation and surrounding spaces. A name that
two countries share is no answer; a mapping's `region_values` add to this and override it.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache

LANGUAGES = ("en", "it", "fr", "de", "es")
_SEPARATORS = re.compile("[\\s.,;:()'\u2019`\"/_-]+")


def country_key(text: str) -> str:
    """How country names are compared: `Côte d'Ivoire` and `cote d ivoire` are one."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", plain).strip()


def country_code(text: str) -> str | None:
    """The ISO alpha-2 code of a country written as a code or a name, else None."""
    return _table().get(country_key(text))


def country_name(code: str) -> str:
    """A country's English name, for messages."""
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return str(found.name) if found is not None else code


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    """Every name and code → its alpha-2 code; a key two countries share is left out."""
    import pycountry
    from phonenumbers.geodata.locale import LOCALE_DATA

    found: dict[str, set[str]] = {}

    def add(name: str | None, code: str) -> None:
        if name:
            found.setdefault(country_key(name), set()).add(code)

    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, [lang], fallback=True).gettext
        for lang in LANGUAGES
    ]
    for country in pycountry.countries:
        code = country.alpha_2
        add(code, code)
        add(country.alpha_3, code)
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            for translate in translations:
                add(translate(name) if name else None, code)
    for code, names in LOCALE_DATA.items():
        for lang in LANGUAGES:
            name = names.get(lang)
            while name is not None and name.startswith("*"):  # "*xx": as in language xx
                name = names.get(name[1:])
            add(name, code)
    return {key: codes.pop() for key, codes in found.items() if len(codes) == 1 and key}
