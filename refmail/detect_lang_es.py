"""Spanish cue and look-alike phrases for detection (see `detect_lang` for the format)."""

from __future__ import annotations

from refmail.detect_lang import NAME, LanguageData, words

# when, later: "la semana que viene", "el lunes", "mañana", "cuando vuelva"
_LATER = (
    r"(?:la\ssemana\s(?:que|q)\sviene|el\s(?:mes|año)\s(?:que|q)\sviene|la\spróxima\ssemana"
    r"|el\s(?:lunes|martes|miércoles|jueves|viernes|sábado|domingo)|mañana|más\sadelante"
    r"|cuando\s(?:vuelva|regrese|pueda|esté|estemos|vuelvas))"
)

SPANISH = LanguageData(
    stop_words=words(
        "el la los las de que y en un una por con para es te os le les se lo mi su del al "
        "muy como pero sus tu vosotros nos este esta"
    ),
    cues={
        "cue_introduce": (
            # (with the Latin American "los"/"las" for "you two": "los presento", "ponerlos")
            r"(?i:\b(?:te|os|les|le|los|las)\s(?:presento|presentamos)\b)(?=\s?a\s|\s?[A-ZÁÉÍÓÚÑ]"
            r"|\s?[:.,;!]|\s*$)|(?i:\b(?:quiero|quería"
            r"|quisiera|me\sgustaría)\s(?:presentar(?:te|os|les|los|las)|que\sconozcá?is"
            r"|que\sconozcas|que\sse\sconozcan)"
            r"|\bpresentar(?:te|os|les|los|las)\sa\b|\bpresentación\s(?:entre|de)\s)"
        ),
        "cue_meet": (
            r"(?i:\b(?:os|les)\spresento\b)(?=\s?a\s|\s?[A-ZÁÉÍÓÚÑ]|\s?[:.,;!]|\s*$)"
            r"|(?i:\bconoce\sa\b|\bdeberíais\sconoceros"
            r"|\bme\sencantaría\sque\sos\sconocierais)"
        ),
        "cue_connect": (
            r"(?i:\b(?:os|te|les|los|las)\s(?:pongo|ponemos)\sen\scontacto|\bponer(?:os|te|les"
            r"|los|las)\sen\scontacto|\bconectar(?:os|te|les|los|las))"
        ),
        "cue_should_talk": (
            r"(?i:\bdeberíais\s(?:hablar|charlar|conoceros|reuniros)|\btenéis\smucho\sen\scomún"
            r"|\bpodríais\s(?:hablar|colaborar|ayudaros)|\blos\sdos\s(?:deberían|podrían))"
        ),
        "cue_opt_in_ask": (
            r"(?i:\b(?:te\s(?:importa|parece\sbien)|estarías\sabiert[oa])\s[^.?!\n]{0,60}?"
            r"(?:present|contacto|conocer))"
        ),
        "cue_hand_off": (
            r"(?i:\bos\sdejo\s(?:que|para|a\svosotros)|\blo\sdejo\sen\svuestras\smanos"
            r"|\bos\scedo\sla\spalabra|\b(?:se|te)\s(?:pondrá|va\sa\sponer)\sen\scontacto"
            r"|\bseguid\svosotros)"
        ),
        "cue_gave_name": (
            r"(?i:\ble\s(?:di|he\sdado|pasé|he\spasado)\stu\s(?:nombre|correo"
            r"|contacto))"
        ),
        "cue_vouches": (
            r"(?i:\b(?:mi|nuestro|nuestra)\s(?:buen\s|buena\s)?(?:amig[oa]|colega)\s)" + NAME
        ),
        "cue_copy_in": (
            rf"(?i:\b(?:copio|pongo\sen\scopia|añado|incluyo|he\sañadido|en\scopia))\s(?:a\s)?"
            rf"(?:{NAME})"
        ),
        "cue_copy_why": r"(?i:\bque\s(?:sabe|conoce|trabaja|lleva|puede)|\bpuede\sayudar)",
        "neg_asks_for_intro": (
            r"(?i:\b(?:me\s(?:podrías|puedes|podrías)\spresentar|presentarme\sa|ponerme\sen"
            r"\scontacto)|\bconoces\sa\salguien)"
        ),
        "neg_thanks_for_intro": (
            r"(?i:\bgracias\spor\s(?:la\spresentación|el\scontacto|presentarnos|ponernos\sen"
            r"\scontacto))"
        ),
        "neg_self_intro": (
            r"(?i:\bme\spresento\b|\bmi\snombre\ses\b|\bpermít(?:ame"
            r"|eme)\spresentarme)"
        ),
        "neg_reply": r"(?i:\b(?:encantad[oa]|un\splacer)\sde\sconocer(?:te|le|os)\b)",
        "neg_out_of_office": (
            r"(?i:\bfuera\sde\sla\soficina\b|\bestaré\sausente"
            r"|\bde\svacaciones\shasta)"
        ),
        "neg_bulk": r"(?i:\bdarse\sde\sbaja|\bcancelar\s(?:la\s)?suscripción)",
        "neg_fyi_copy": (
            r"(?i:\bpara\stu\sinformación|\bpara\sque\sestés\sal\stanto"
            r"|\bpara\sque\sconste"
            # copied to have it: "Copio a Inés pa q lo tenga"
            r"|\b(?:para|pa)\s(?:que|q)\s(?:lo|la|los|las)\s(?:tenga|tengan|tengas)\b)"
        ),
        "neg_welcome": r"(?i:\bbienvenid[oa]s?\sa(?:l)?\s(?:equipo|grupo|proyecto|lista))",
        "neg_referral_programme": r"(?i:\bprograma\sde\s(?:referidos|recomendación))",
        # (and the act put off: "la semana que viene os presento", "os presentaré")
        "neg_offer_later": (
            r"(?i:\bsi\squieres\s(?:te|os)\s(?:presento|pongo\sen\scontacto)"
            r"|\b(?:te|os|les|le)\s(?:presentaré|pondré\sen\scontacto)\b"
            rf"|\b{_LATER}\s(?:(?:te|os|les|le)\s(?:presento|pongo\sen\scontacto)|(?:presentaros"
            r"|presentarte|poneros\sen\scontacto))\b"
            rf"|\b(?:te|os|les|le)\s(?:presento|pongo\sen\scontacto)\s(?:a\s\w+\s)?{_LATER}\b)"
        ),
        # an aide copied for the author's errands: "Te copio a Camila, mi asistente, que…"
        "neg_admin_copy": (
            r"(?i:\b(?:mi|nuestr[oa])\s(?:asistente|secretari[oa]|ayudante)\b"
            r"|\b(?:lleva|maneja|gestiona)\s(?:mi|nuestra)\sagenda\b)"
        ),
    },
    describes=(
        r"(?i:\b(?:es\s(?:un|una|el|la|mi)|dirige|trabaja|lleva|fundó|fundador[a]?|creó|"
        r"busca|está\sbuscando|conoce|sabe|que\s))"
    ),
    greeting=r"(?i:hola|buenos\sdías|buenas\stardes|querid[oa]s?|estimad[oa]s?)",
    purpose=r"(?i:\b(?:para(?:\sque)?|y\sle\spido\sque)\s)",
    reason=r"(?i:\b(?:porque|ya\sque|quien|que\ssabe)\b)",
    contact=(
        r"(?i:\b(?:llam\w{1,6}|contact\w{1,6}|escrib\w{1,6}|coordin\w{1,6}|organi[cz]\w{1,6}"
        r"|ayud\w{1,6}|hablar|reunir)\b)"
    ),
    toward=r"(?i:\b(?:te|tú|ti|tu|usted|le|os|vosotros|nos|nosotros)\b)",
    gates={},
)
