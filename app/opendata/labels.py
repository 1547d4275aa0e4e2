"""The few UI strings of the organisation page, in the ten UI locales.

Kept here rather than in the shared gettext catalogs while this slice is merged (the .po
files are edited by several slices at once); `gettext` falls back to the catalogs, so the
page's frame (navigation, footer) is translated as everywhere else. Move them into the .po
files at merge.
"""

from collections.abc import Callable

from app.i18n.catalogs import translations
from app.i18n.negotiation import UiLocale

LABELS: dict[str, dict[str, str]] = {
    "Names": {
        "fr": "Noms",
        "es": "Nombres",
        "de": "Namen",
        "pt": "Nomes",
        "ru": "Названия",
        "ar": "الأسماء",
        "zh_Hant": "名稱",
        "zh_Hans": "名称",
        "ja": "名称",
    },
    "Country": {
        "fr": "Pays",
        "es": "País",
        "de": "Land",
        "pt": "País",
        "ru": "Страна",
        "ar": "البلد",
        "zh_Hant": "國家",
        "zh_Hans": "国家",
        "ja": "国",
    },
    "Website": {
        "fr": "Site web",
        "es": "Sitio web",
        "de": "Website",
        "pt": "Site",
        "ru": "Сайт",
        "ar": "الموقع الإلكتروني",
        "zh_Hant": "網站",
        "zh_Hans": "网站",
        "ja": "ウェブサイト",
    },
    "Identifiers": {
        "fr": "Identifiants",
        "es": "Identificadores",
        "de": "Kennungen",
        "pt": "Identificadores",
        "ru": "Идентификаторы",
        "ar": "المعرّفات",
        "zh_Hant": "識別碼",
        "zh_Hans": "标识符",
        "ja": "識別子",
    },
    "Letters signed": {
        "fr": "Lettres signées",
        "es": "Cartas firmadas",
        "de": "Unterzeichnete Briefe",
        "pt": "Cartas assinadas",
        "ru": "Подписанные письма",
        "ar": "الرسائل الموقّعة",
        "zh_Hant": "已簽署的信",
        "zh_Hans": "已签署的信",
        "ja": "署名した書簡",
    },
    "No public signature yet.": {
        "fr": "Aucune signature publique pour l’instant.",
        "es": "Todavía no hay ninguna firma pública.",
        "de": "Noch keine öffentliche Unterschrift.",
        "pt": "Ainda não há nenhuma assinatura pública.",
        "ru": "Публичных подписей пока нет.",
        "ar": "لا يوجد توقيع علني بعد.",
        "zh_Hant": "尚無公開簽署。",
        "zh_Hans": "尚无公开签署。",
        "ja": "公開の署名はまだありません。",
    },
    "acronym": {
        "fr": "sigle",
        "es": "sigla",
        "de": "Akronym",
        "pt": "sigla",
        "ru": "аббревиатура",
        "ar": "اختصار",
        "zh_Hant": "縮寫",
        "zh_Hans": "缩写",
        "ja": "略称",
    },
    "Organisation": {
        "fr": "Organisation",
        "es": "Organización",
        "de": "Organisation",
        "pt": "Organização",
        "ru": "Организация",
        "ar": "منظمة",
        "zh_Hant": "組織",
        "zh_Hans": "组织",
        "ja": "団体",
    },
}


def gettext_for(ui: UiLocale) -> Callable[[str], str]:
    catalog = translations(ui.name)

    def gettext(message: str) -> str:
        local = LABELS.get(message)
        if local is not None:
            return local.get(ui.name, message)
        return catalog.gettext(message)

    return gettext
