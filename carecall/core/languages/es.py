"""Spanish (see `core.languages`): neutral Latin American Spanish, as spoken in the United
States, and *usted* throughout: the people called are older, and the bot is a stranger to them.
Phone numbers are the US ones the English lines give (911, 988 — where pressing 2 reaches
someone in Spanish — and Poison Control, which has interpreters)."""

from __future__ import annotations

from carecall.core.languages.words import Understanding

CODE = "es"
NAME = "Spanish"
NATIVE_NAME = "Español"
SAY_LANGUAGE = "es-MX"
SAY_VOICE: str | None = "Polly.Mia"
"""A Spanish voice of Twilio's (Amazon Polly, Mexican Spanish): its default voice is English."""
MODEL_NOTE = (
    "The person speaks Spanish: speak only Spanish in this call, whatever language these "
    "instructions are written in, and even if they mix in some English. Address them formally, "
    "as usted, with plain everyday words. If they ask for English, you may switch."
)

LINES: dict[str, str] = {
    "greeting.hello": "¡Hola!",
    "greeting.hello_name": "¡Hola, {name}!",
    "greeting.intro": (
        "Soy {bot_name}, un asistente automático que le llama de parte de "
        "{organization_name} para saber cómo está hoy."
    ),
    "organization.default": "su equipo de cuidados",
    "checkin.feeling": "¿Cómo se encuentra hoy?",
    "checkin.feeling.good": "Me alegra mucho oír eso.",
    "checkin.feeling.okay": "Gracias por contármelo.",
    "checkin.feeling.bad": "Siento mucho oír eso.",
    "checkin.sleep": "¿Más o menos cuántas horas durmió anoche?",
    "checkin.sleep.number": "Parece que descansó bien.",
    "checkin.sleep.low": "Eso no es mucho. Ojalá pueda descansar un poco hoy.",
    "checkin.meals": "¿Ha comido algo hoy?",
    "checkin.meals.yes": "Muy bien, me alegra que haya comido.",
    "checkin.meals.no": "Por favor, intente comer algo pronto.",
    "checkin.medication": "¿Se ha tomado hoy sus medicinas?",
    "checkin.medication.yes": "Muy bien, gracias.",
    "checkin.medication.no": "Por favor, acuérdese de tomarlas como le indicó su médico.",
    "checkin.pain": "¿Tiene algún dolor hoy?",
    "checkin.pain.yes": "Siento oír eso. Si empeora, por favor llame a su médico.",
    "checkin.pain.no": "Me alegra oír eso.",
    "checkin.needs": (
        "¿Necesita algo, o hay algo que le gustaría que supiera su equipo de cuidados?"
    ),
    "checkin.needs.nothing": "Muy bien.",
    "checkin.needs.something": "Gracias. Lo dejo anotado.",
    "checkin.thanks": "Gracias.",
    "checkin.not_understood": "Disculpe, no le entendí bien.",
    "checkin.moving_on": "No se preocupe.",
    "checkin.goodbye": "Gracias por hablar conmigo hoy. ¡Adiós, y cuídese mucho!",
    "checkin.opt_out_goodbye": (
        "Lo entiendo. Me aseguraré de que no le volvamos a llamar. Cuídese, adiós."
    ),
    "call.fallback": "Disculpe, no le escuché bien. ¿Me lo puede repetir?",
    "call.hold_cue": "Ajá.",
    "call.time_up_goodbye": (
        "Ya llevamos un buen rato hablando, así que le dejo descansar. Gracias, y cuídese. ¡Adiós!"
    ),
    "call.idle_first": "Tómese su tiempo, no hay prisa. Le escucho.",
    "call.idle_second": "¿Sigue ahí? Si me oye, solo diga hola.",
    "call.idle_goodbye": (
        "Hace un ratito que no le escucho, así que voy a colgar. Le volveremos a llamar pronto. "
        "Cuídese. ¡Adiós!"
    ),
    "call.shutdown_goodbye": (
        "Lo siento, tengo que colgar ahora. Alguien le volverá a llamar pronto. ¡Adiós!"
    ),
    "call.transfer": "Le comunico ahora con {name}. Por favor, no cuelgue.",
    "voicemail.named": (
        "Hola, {name}. Le habla {bot_name}, de parte de {organization_name}, para su llamada "
        "de cada día. Lamentamos no haberle encontrado; volveremos a intentarlo un poco más tarde. "
        "¡Cuídese!"
    ),
    "voicemail.unnamed": (
        "Hola. Le habla {bot_name}, de parte de {organization_name}, para su llamada de cada "
        "día. Lamentamos no haberle encontrado; volveremos a intentarlo un poco más tarde. "
        "¡Cuídese!"
    ),
    "screener.named": (
        "Soy {bot_name} y llamo de parte de {organization_name} para la llamada diaria de {name}."
    ),
    "screener.unnamed": (
        "Soy {bot_name} y llamo de parte de {organization_name} con una llamada diaria para "
        "saber cómo está."
    ),
    "advice.call_911": (
        "Esto parece grave, y quiero que reciba ayuda enseguida. Por favor, llame al 9 1 1 "
        "ahora mismo. Si le resulta más fácil, puedo terminar nuestra llamada para que les "
        "llame enseguida. También voy a avisar a la persona que le cuida."
    ),
    "advice.call_988": (
        "Me alegra mucho que me lo haya contado, y siento que se sienta así. No tiene que "
        "pasar por esto a solas. Puede llamar o escribir al 9 8 8 a cualquier hora, de día o "
        "de noche, para hablar con alguien que le puede ayudar; marque el 2 para hablar en "
        "español. Estoy aquí con usted, y me gustaría avisar a la persona que le cuida para "
        "que también pueda estar a su lado."
    ),
    "advice.unsafe_at_home": (
        "Siento mucho que le esté pasando esto. No es culpa suya, y usted merece estar a "
        "salvo. Si está en peligro ahora mismo, por favor llame al 9 1 1. Voy a avisar a la "
        "persona que le cuida, y puedo ponerle en contacto con ella."
    ),
    "advice.not_eating": (
        "Eso me preocupa, y me gustaría que hoy reciba ayuda. Si puede, beba unos sorbos de "
        "agua ahora. Si se marea, se siente muy débil o le cuesta pensar con claridad, por "
        "favor llame al 9 1 1. Voy a avisar a la persona que le cuida para que pase a verle."
    ),
    "advice.medication": (
        "Gracias por decírmelo. Tomar demasiada medicina, o la medicina equivocada, puede ser "
        "peligroso. Por favor, llame ahora al Centro de Control de Envenenamientos, al "
        "1 800 222 1222, o al 9 1 1 si se encuentra mal o con mucho sueño. Voy a avisar a la "
        "persona que le cuida."
    ),
    "text.red_flag": (
        "{organization}: URGENTE — en la llamada de hoy, {name} {said}. {advised}Por favor, "
        "asegúrese ahora mismo de que {name} esté bien."
    ),
    "text.red_flag.said": "dijo {quote}",
    "text.red_flag.spoke_of": "habló de {what}",
    "text.advised.988": "Le dimos el número de la línea de crisis 988. ",
    "text.advised.poison": "Le dimos el número del Centro de Control de Envenenamientos. ",
    "text.advised.911": "Le aconsejamos llamar al 911. ",
    "red_flag.fall": "una caída",
    "red_flag.chest_pain": "dolor en el pecho",
    "red_flag.breathing": "dificultad para respirar",
    "red_flag.stroke": "señales de un derrame cerebral",
    "red_flag.self_harm": "pensamientos de hacerse daño",
    "red_flag.abuse": "alguien que le hace daño o le amenaza",
    "red_flag.severe_bleeding": "una hemorragia que no para",
    "red_flag.unconscious": "alguien que se ha desmayado o no despierta",
    "red_flag.sudden_confusion": "confusión repentina",
    "red_flag.not_eating_drinking": "no comer ni beber durante días",
    "red_flag.medication_error": "tomar demasiada medicina o la equivocada",
    "text.trend": "{organization}: {reason} Por favor, llame pronto a {name}.",
    "trend.worse": "{measure} de {name} ha empeorado en las últimas {count} llamadas ({levels})",
    "trend.then": ", luego ",
    "trend.reached": "{measure} de {name} ha llegado a «{level}»",
    "trend.before": " (la llamada anterior: {level})",
    "trend.quoted": "{reason}: {quote}.",
    "trend.unquoted": "{reason}.",
    "quote": "«{words}»",
    "measure.mood": "el estado de ánimo",
    "measure.sleep": "el sueño",
    "measure.eating": "la alimentación",
    "measure.pain": "el dolor",
    "measure.medication": "la toma de medicamentos",
    "measure.social_contact": "el contacto con otras personas",
    "measure.loneliness": "la soledad",
    "measure.mobility": "la movilidad",
    "measure.confusion": "la confusión",
    "level.mood.0": "de buen ánimo",
    "level.mood.1": "algo decaído",
    "level.mood.2": "decaído",
    "level.mood.3": "muy decaído o sin esperanza",
    "level.sleep.0": "duerme bien",
    "level.sleep.1": "algunas malas noches",
    "level.sleep.2": "duerme mal",
    "level.sleep.3": "apenas duerme",
    "level.eating.0": "come bien",
    "level.eating.1": "come un poco menos",
    "level.eating.2": "come mal",
    "level.eating.3": "apenas come",
    "level.pain.0": "sin dolor",
    "level.pain.1": "dolor leve",
    "level.pain.2": "dolor que le limita",
    "level.pain.3": "dolor intenso",
    "level.medication.0": "las toma como se las recetaron",
    "level.medication.1": "con dudas, o se olvidó una vez",
    "level.medication.2": "se saltó varias dosis",
    "level.medication.3": "no las toma",
    "level.social_contact.0": "en contacto con otras personas a menudo",
    "level.social_contact.1": "algo de contacto",
    "level.social_contact.2": "poco contacto",
    "level.social_contact.3": "sin contacto con nadie",
    "level.loneliness.0": "no se siente solo",
    "level.loneliness.1": "algo de soledad",
    "level.loneliness.2": "se siente solo",
    "level.loneliness.3": "mucha soledad",
    "level.mobility.0": "se mueve bien",
    "level.mobility.1": "algo inestable",
    "level.mobility.2": "le cuesta moverse",
    "level.mobility.3": "se cayó o no puede moverse",
    "level.confusion.0": "con la mente clara",
    "level.confusion.1": "algunos olvidos",
    "level.confusion.2": "confusión a ratos",
    "level.confusion.3": "muy confundido",
    "text.escalation": (
        "{organization}: {situation} ({reason}). Por favor, asegúrese de que {name} "
        "esté bien. Responda OK para avisarnos de que usted se encarga."
    ),
    "call.escalation": (
        "Hola, este es un mensaje automático de {organization}. {situation}, {reason}. Por "
        "favor, asegúrese de que {name} esté bien."
    ),
    "escalation.situation": "No pudimos hablar con {full_name} en su {which}",
    "escalation.press_1": "Oprima el 1 para avisarnos de que usted se encarga.",
    "escalation.no_key": "No recibimos ninguna respuesta. Adiós.",
    "escalation.tries.one": "{count} intento: {outcome}",
    "escalation.tries.many": "{count} intentos: {outcome}",
    "outcome.voicemail": "entró el buzón de voz",
    "outcome.no-answer": "no contestó",
    "outcome.busy": "línea ocupada",
    "outcome.failed": "la llamada falló",
    "outcome.skipped": "no se llamó",
    "checkin.which": "llamada de las {time} {day}",
    "checkin.which.unknown": "llamada de control",
    "day.today": "de hoy",
    "day.yesterday": "de ayer",
    "day.on": "del {weekday} {day} de {month}",
    "weekday.0": "lunes",
    "weekday.1": "martes",
    "weekday.2": "miércoles",
    "weekday.3": "jueves",
    "weekday.4": "viernes",
    "weekday.5": "sábado",
    "weekday.6": "domingo",
    "month.1": "enero",
    "month.2": "febrero",
    "month.3": "marzo",
    "month.4": "abril",
    "month.5": "mayo",
    "month.6": "junio",
    "month.7": "julio",
    "month.8": "agosto",
    "month.9": "septiembre",
    "month.10": "octubre",
    "month.11": "noviembre",
    "month.12": "diciembre",
    "reply.nothing_waiting": (
        "Gracias por su mensaje. Ahora mismo no hay nada pendiente de respuesta."
    ),
    "reply.how_to_acknowledge": "Para avisarnos de que usted se ocupa de {names}, responda OK.",
    "reply.already": "Gracias, {first_name}. Alguien ya está pendiente de {names}.",
    "reply.noted": "Gracias, {first_name}. Hemos anotado que usted se ocupa de {names}.",
    "reply.no_name": "de verdad",
    "names.and": " y ",
    "names.none": "esa persona",
    "keypad.goodbye": "Adiós.",
    "keypad.already": "Gracias. Alguien ya está pendiente de {name}. Adiós.",
    "keypad.noted": "Gracias. Hemos anotado que usted se ocupa de {name}. Adiós.",
}

UNDERSTANDING = Understanding(
    yes=(
        "si", "sip", "claro", "vale", "ya", "cierto", "exacto", "efectivamente", "seguro",
        "correcto", "aja", "tambien",
    ),
    yes_phrases=(
        "por supuesto", "desde luego", "creo que si", "ya lo hice", "ya he", "ya comi",
        "he comido", "ya me las tome", "me las tome", "me la tome", "las tome", "un poco",
        "un poquito", "algo",
    ),
    negators=("no", "nunca", "jamas", "tampoco", "ni", "sin"),
    no=("nada", "ninguno", "ninguna", "nop"),
    unsure=(
        "no se", "no estoy seguro", "no estoy segura", "no me acuerdo", "no recuerdo",
        "ni idea", "quien sabe",
    ),
    hurts=(
        "duele", "duelen", "dolor", "dolores", "molesta", "molestan", "molestias",
        "adolorido", "adolorida", "dolorido", "dolorida",
    ),
    no_pain=("bien",),
    good=(
        "bien", "bueno", "buena", "genial", "estupendo", "estupenda", "excelente", "fenomenal",
        "feliz", "contento", "contenta", "mejor", "perfecto", "perfecta", "maravilla",
        "magnifico", "magnifica", "divinamente", "animado", "animada",
    ),
    okay=("regular", "normal", "tirando", "pasable"),
    bad=(
        "mal", "fatal", "terrible", "horrible", "enfermo", "enferma", "triste", "cansado",
        "cansada", "agotado", "agotada", "mareado", "mareada", "debil", "peor", "decaido",
        "decaida", "deprimido", "deprimida", "malito", "malita", "pachucho", "pachucha",
        "solito", "solita", "adolorido", "adolorida",
    ),
    good_phrases=("no me puedo quejar", "no me quejo"),
    okay_phrases=(
        "mas o menos", "asi asi", "no tan mal", "no muy mal", "no estoy mal", "no esta mal",
        "ni bien ni mal",
        "ahi vamos", "ahi ando", "ahi voy", "como siempre", "lo de siempre",
        "podria estar peor", "no del todo mal", "ahi la llevo",
    ),
    negation_reach=4,
    openers=("pues", "bueno", "mire", "mira", "oiga", "hombre", "ay"),
    numbers=(
        "cero=0", "uno=1", "una=1", "dos=2", "tres=3", "cuatro=4", "cinco=5", "seis=6",
        "siete=7", "ocho=8", "nueve=9", "diez=10", "once=11", "doce=12", "trece=13",
        "catorce=14", "quince=15", "dieciseis=16", "diecisiete=17", "dieciocho=18",
        "diecinueve=19", "veinte=20", "veintiuno=21", "veintiuna=21", "veintidos=22",
        "veintitres=23", "veinticuatro=24",
    ),
    tens=("treinta=30", "cuarenta=40", "cincuenta=50", "sesenta=60"),
    tens_joiners=("y",),
    half=("y media", "y medio"),
    nothing=(
        "no", "nada", "gracias", "muchas", "estoy", "bien", "todo", "de", "momento", "por",
        "ahora", "necesito", "creo", "que", "hoy", "vale", "pues", "bueno", "muy", "asi",
        "mas", "esta", "tranquilo", "tranquila", "mija", "mijo", "senorita", "querida",
        "querido", "en", "el", "la", "se", "me", "falta",
    ),
    repeat_phrases=(
        "puede repetir", "me lo repite", "repitamelo", "repita", "repetir", "otra vez",
        "no le oi", "no le he oido", "no le entendi", "no le he entendido", "no entendi",
        "no oigo", "no le oigo", "como dice", "que dijo", "que ha dicho", "que me dijo",
    ),
    repeat_alone=(
        "que", "como", "perdon", "perdone", "disculpe", "eh", "mande", "diga", "digame",
        "por", "favor", "otra", "vez",
    ),
    repeat_triggers=("que", "como", "perdon", "perdone", "eh", "mande"),
    opt_out_phrases=(
        "deje de llamarme", "dejen de llamarme", "deja de llamarme", "no me llame",
        "no me llamen", "no me vuelva a llamar", "no me vuelvan a llamar",
        "no quiero mas llamadas", "no quiero estas llamadas", "no quiero que me llamen",
        "no quiero que me llame", "borreme", "borrenme", "quiteme de la lista",
        "quitenme de la lista", "saquenme de la lista", "deme de baja", "denme de baja",
        "darme de baja",
    ),
    stop_words=("deje", "dejen", "deja"),
    leaving_phrases=(
        "tengo que irme", "me tengo que ir", "tengo que colgar", "le dejo", "la dejo",
        "lo dejo", "hablamos luego", "hablamos mas tarde", "hasta luego", "hasta pronto",
        "hasta manana", "nos vemos", "nos hablamos",
    ),
    leaving_ends=(
        "ya", "ahora", "perdone", "adios", "entonces", "pronto", "gracias", "querida",
        "querido", "mija", "mijo",
    ),
    goodbyes=("adios", "chao", "chau", "bye"),
    reported=("dije", "decir", "dice", "dijo", "diciendo", "digo"),
    contractions=(),
    acknowledgements=(
        "ok", "okey", "vale", "si", "listo", "entendido", "claro", "hecho", "1", "👍",
    ),
    acknowledgement_phrases=(
        "de acuerdo", "yo me encargo", "me encargo", "ya voy", "voy para alla", "lo tengo",
    ),
)  # fmt: skip

MACHINE_WORDS = (
    r"\b(deje (su|un) (mensaje|recado)|(despu[eé]s|al o[ií]r) (del|de la|el|la) "
    r"(tono|señal|pitido)|grabe su mensaje|buz[oó]n de voz|contestador|"
    r"(se ha comunicado|ha llamado|se comunic[oó]) (con|a)|no (est[aá] )?disponible en "
    r"este momento, deje)"
)
"""What an answering machine's greeting says in Spanish ("deje su mensaje después del tono",
"ha llamado a", "buzón de voz"); as in English, "no está disponible" alone could be someone
who answered, so it only counts followed by "deje"."""
SCREENER_WORDS = (
    r"\b(diga su nombre|(motivo|raz[oó]n) de (su|la|esta) llamada|"
    r"por qu[eé] (llama|est[aá] llamando)|filtro de llamadas|asistente de llamadas|"
    r"permanezca en la l[ií]nea|no cuelgue|espere un momento, por favor)"
)
"""What a call-screening assistant says in Spanish."""
