"""The replies to inbound SMS, short and in the customer's language (English, German, Italian,
Hungarian). They name only the campaign and the receiver's own code: never anything of another
customer."""

from __future__ import annotations

from typing import Final, Literal

ReplyKind = Literal[
    "stop",
    "help",
    "register",
    "consent",
    "coupon",
    "coupon_held",
    "offer_closed",
    "entry_points",
    "entry_win",
    "entry_lose",
    "entry_win_code",
    "entry_used",
    "entry_limit",
    "contest_closed",
    "voucher",
    "voucher_limit",
    "code_invalid",
    "throttled",
]
LANGUAGES: Final = ("en", "de", "it", "hu")

TEXTS: Final[dict[str, dict[ReplyKind, str]]] = {
    "en": {
        "stop": "You will receive no more offers from Tessera. Text HELP for help.",
        "help": "Text a keyword for its coupon, or a code to enter a contest. STOP ends offers. {url}",
        "register": "This number is not registered. Register to receive coupons: {url}",
        "consent": "Turn on offers in your account to receive coupons: {url}",
        "coupon": "{campaign}: your code is {code}, valid until {until}. Wallet: {link}",
        "coupon_held": "{campaign}: you already have code {code}, valid until {until}. Wallet: {link}",
        "offer_closed": "Sorry, this offer is not available now.",
        "entry_points": "{contest}: +{points} points, {total} in all. "
        "You are number {rank} of {participants}.",
        "entry_win": "{contest}: you won {prize}!",
        "entry_win_code": "{contest}: you won {prize}! Your code: {code}. Wallet: {link}",
        "entry_lose": "{contest}: no prize this time. Thanks for playing!",
        "entry_used": "This code has already been entered.",
        "entry_limit": "{contest}: you have entered as many codes as allowed for now.",
        "contest_closed": "{contest} is not open for entries.",
        "voucher": "{campaign}: your code is {code}, valid until {until}. Wallet: {link}",
        "voucher_limit": "You have exchanged as many vouchers as this offer allows.",
        "code_invalid": "This code is not valid. Check it and try again.",
        "throttled": "Too many codes that were not valid. Try again later.",
    },
    "de": {
        "stop": "Sie erhalten keine Angebote mehr von Tessera. HILFE für Hilfe.",
        "help": "Senden Sie ein Stichwort für seinen Gutschein oder einen Code für ein Gewinnspiel. "
        "STOP beendet Angebote. {url}",
        "register": "Diese Nummer ist nicht registriert. Registrieren Sie sich: {url}",
        "consent": "Schalten Sie Angebote in Ihrem Konto ein, um Gutscheine zu erhalten: {url}",
        "coupon": "{campaign}: Ihr Code ist {code}, gültig bis {until}. Wallet: {link}",
        "coupon_held": "{campaign}: Sie haben bereits den Code {code}, gültig bis {until}. Wallet: {link}",
        "offer_closed": "Dieses Angebot ist leider gerade nicht verfügbar.",
        "entry_points": "{contest}: +{points} Punkte, insgesamt {total}. "
        "Sie sind Nummer {rank} von {participants}.",
        "entry_win": "{contest}: Sie haben {prize} gewonnen!",
        "entry_win_code": "{contest}: Sie haben {prize} gewonnen! Ihr Code: {code}. Wallet: {link}",
        "entry_lose": "{contest}: Diesmal leider kein Gewinn. Danke fürs Mitmachen!",
        "entry_used": "Dieser Code wurde bereits eingegeben.",
        "entry_limit": "{contest}: Sie haben so viele Codes eingegeben, wie derzeit erlaubt.",
        "contest_closed": "{contest} nimmt gerade keine Codes an.",
        "voucher": "{campaign}: Ihr Code ist {code}, gültig bis {until}. Wallet: {link}",
        "voucher_limit": "Sie haben so viele Gutscheine eingelöst, wie dieses Angebot erlaubt.",
        "code_invalid": "Dieser Code ist nicht gültig. Bitte prüfen und erneut senden.",
        "throttled": "Zu viele ungültige Codes. Bitte später erneut versuchen.",
    },
    "it": {
        "stop": "Non riceverai più offerte da Tessera. Scrivi AIUTO per assistenza.",
        "help": "Invia una parola chiave per il suo coupon o un codice per un concorso. "
        "STOP per non ricevere offerte. {url}",
        "register": "Questo numero non è registrato. Registrati per ricevere i coupon: {url}",
        "consent": "Attiva le offerte nel tuo account per ricevere i coupon: {url}",
        "coupon": "{campaign}: il tuo codice è {code}, valido fino al {until}. Wallet: {link}",
        "coupon_held": "{campaign}: hai già il codice {code}, valido fino al {until}. Wallet: {link}",
        "offer_closed": "Spiacenti, questa offerta non è disponibile ora.",
        "entry_points": "{contest}: +{points} punti, {total} in tutto. "
        "Sei al posto {rank} su {participants}.",
        "entry_win": "{contest}: hai vinto {prize}!",
        "entry_win_code": "{contest}: hai vinto {prize}! Il tuo codice: {code}. Wallet: {link}",
        "entry_lose": "{contest}: nessun premio questa volta. Grazie per aver giocato!",
        "entry_used": "Questo codice è già stato inserito.",
        "entry_limit": "{contest}: hai inserito tutti i codici consentiti per ora.",
        "contest_closed": "{contest} non accetta codici ora.",
        "voucher": "{campaign}: il tuo codice è {code}, valido fino al {until}. Wallet: {link}",
        "voucher_limit": "Hai già scambiato tutti i buoni che questa offerta consente.",
        "code_invalid": "Questo codice non è valido. Controllalo e riprova.",
        "throttled": "Troppi codici non validi. Riprova più tardi.",
    },
    "hu": {
        "stop": "Nem kap több ajánlatot a Tesserától. Segítség: SUGO.",
        "help": "Küldjön egy kulcsszót a kuponjáért, vagy egy kódot a játékhoz. STOP: leiratkozás. {url}",
        "register": "Ez a szám nincs regisztrálva. Regisztráljon a kuponokért: {url}",
        "consent": "Kapcsolja be az ajánlatokat a fiókjában a kuponokért: {url}",
        "coupon": "{campaign}: a kódja {code}, érvényes: {until}. Wallet: {link}",
        "coupon_held": "{campaign}: már megvan a kódja: {code}, érvényes: {until}. Wallet: {link}",
        "offer_closed": "Sajnáljuk, ez az ajánlat most nem elérhető.",
        "entry_points": "{contest}: +{points} pont, összesen {total}. Helyezése: {rank} / {participants}.",
        "entry_win": "{contest}: nyert: {prize}!",
        "entry_win_code": "{contest}: nyert: {prize}! A kódja: {code}. Wallet: {link}",
        "entry_lose": "{contest}: most nem nyert. Köszönjük a játékot!",
        "entry_used": "Ezt a kódot már beküldték.",
        "entry_limit": "{contest}: most nem küldhet be több kódot.",
        "contest_closed": "{contest}: a játék most nem fogad kódokat.",
        "voucher": "{campaign}: a kódja {code}, érvényes: {until}. Wallet: {link}",
        "voucher_limit": "Már annyi utalványt váltott be, amennyit ez az ajánlat enged.",
        "code_invalid": "Ez a kód nem érvényes. Ellenőrizze, és próbálja újra.",
        "throttled": "Túl sok érvénytelen kód. Próbálja később.",
    },
}


def language_of(locale: str | None) -> str:
    language = (locale or "en")[:2].lower()
    return language if language in TEXTS else "en"


# Two concatenated GSM-7 segments (153 characters each once the concatenation header is in):
# a reply longer than that costs the sender a third message and some phones show it in parts.
MAX_REPLY_CHARACTERS: Final = 306
# The values a long reply is shortened by: names a marketer chose, never a code or a link.
SHORTENED: Final = ("campaign", "contest", "prize")


def reply_text(kind: ReplyKind, locale: str | None, **values: object) -> str:
    """The reply in the receiver's language, at most ``MAX_REPLY_CHARACTERS`` long when it can be
    by shortening the names in it (the code and the link are kept whole)."""
    template = TEXTS[language_of(locale)][kind]
    text = template.format(**values)
    excess = len(text) - MAX_REPLY_CHARACTERS
    names = [name for name in SHORTENED if name in values and f"{{{name}}}" in template]
    while excess > 0 and names:
        longest = max(names, key=lambda name: len(str(values[name])))
        value = str(values[longest])
        keep = max(len(value) - excess - 1, 8)
        if keep >= len(value) - 1:
            names.remove(longest)
            continue
        values = {**values, longest: value[:keep].rstrip() + "…"}
        text = template.format(**values)
        excess = len(text) - MAX_REPLY_CHARACTERS
    return text
