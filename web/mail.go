package web

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"sort"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"
)

// E-mail rendering. Each kind of message is defined once, as data: a
// subject and a sequence of blocks (paragraphs, an action button, a
// quotation), all translatable strings with named placeholders such as
// {name} or {link}. The placeholders are filled by plain-text
// substitution, and one html/template layout (mail/layout.html) and one
// text/template layout (mail/layout.txt) render the same structure, so
// the HTML is escaped by html/template and nothing else builds HTML.

// Mail is a rendered e-mail: subject, plain text and HTML bodies.
type Mail struct{ Subject, Text, HTML string }

// Errors of RenderMail; the returned errors wrap one of them.
var (
	// ErrMailKind: the kind is unknown.
	ErrMailKind = errors.New("web: unknown mail kind")
	// ErrMailData: the data is unfit for the kind (a key missing, unknown
	// or empty, a value too long, with control characters, not UTF-8, or
	// not an absolute http(s) URL where one is needed).
	ErrMailData = errors.New("web: invalid mail data")
)

const (
	mailMaxLine  = 500  // bytes in a single-line value
	mailMaxMulti = 4000 // bytes in a multi-line value
	mailWidth    = 72   // characters on a line of the text body
)

// mailURLKeys are the data keys whose values are absolute http(s) URLs.
var mailURLKeys = map[string]bool{"link": true, "unsubscribe": true, "site_url": true}

// mailMultiLine are the data keys whose values may have line breaks.
var mailMultiLine = map[string]bool{"answer": true, "note": true, "overdue_names": true, "finished_names": true}

// mailBlock is one block of a message's body: a paragraph, an action
// (a link shown as a button) or a quotation of multi-line text.
type mailBlock struct {
	text   string // message key (after the kind's prefix): the paragraph, or the action's label
	link   string // data key of the action's URL; the block is then an action, shown only when the URL is given
	quote  string // data key of multi-line text shown as a quotation
	when   string // the block is shown only when this data key is given
	unless string // the block is shown only when this data key is not given
}

func mailPara(key string) mailBlock                { return mailBlock{text: key} }
func mailParaWhen(key, dataKey string) mailBlock   { return mailBlock{text: key, when: dataKey} }
func mailParaUnless(key, dataKey string) mailBlock { return mailBlock{text: key, unless: dataKey} }
func mailAction(label, dataKey string) mailBlock   { return mailBlock{text: label, link: dataKey} }
func mailQuote(dataKey string) mailBlock           { return mailBlock{quote: dataKey} }

// mailKind defines a kind of message. Its strings are
// mailMessages[lang][kind+".subject"] and [kind+"."+block.text].
type mailKind struct {
	// essential messages (account security, things the person asked
	// for) go out whatever the person's choices; the others need an
	// unsubscribe link.
	essential bool
	// required and optional data keys besides site_url, name and (for
	// non-essential kinds) unsubscribe.
	required, optional []string
	blocks             []mailBlock
}

var mailKinds = map[string]mailKind{
	"password_reset": {essential: true, required: []string{"link"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link"), mailPara("p3")}},
	"password_changed": {essential: true, required: []string{"link"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link")}},
	"verify_email": {essential: true, required: []string{"link"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link"), mailPara("p3")}},
	"email_changed": {essential: true, required: []string{"new_email"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	"register_exists": {essential: true, required: []string{"link"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link"), mailPara("p3")}},
	"certificate_issued": {essential: true, required: []string{"link", "course"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link")}},
	"feedback_answered": {essential: true, required: []string{"answer"}, optional: []string{"link"},
		blocks: []mailBlock{mailPara("p1"), mailQuote("answer"), mailAction("action", "link")}},
	"role_changed": {essential: true, required: []string{"role"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	"totp_enabled": {essential: true,
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	"totp_disabled": {essential: true,
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	"account_deleted": {essential: true,
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailPara("p3")}},
	"exam_extension": {essential: true, required: []string{"extension"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	"reminder_inactive": {required: []string{"link", "days"}, optional: []string{"section"},
		blocks: []mailBlock{mailPara("p1"), mailParaWhen("p2.section", "section"), mailParaUnless("p2", "section"), mailAction("action", "link")}},
	"reminder_exam_deadline": {required: []string{"link", "deadline"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailAction("action", "link")}},
	"test": {essential: true,
		blocks: []mailBlock{mailPara("p1"), mailPara("p2")}},
	// Assignments: the notice to each person assigned, the reminders 14
	// and 3 days before the due date, and the assigning reporter's weekly
	// digest.
	"invitation": {essential: true, required: []string{"link", "org", "expires"}, optional: []string{"unit"},
		blocks: []mailBlock{mailParaWhen("p1.unit", "unit"), mailParaUnless("p1", "unit"), mailAction("action", "link"), mailPara("p2")}},
	"reminder_assignment": {required: []string{"link", "what", "due"}, optional: []string{"note"},
		blocks: []mailBlock{mailPara("p1"), mailQuote("note"), mailAction("action", "link"), mailPara("p2")}},
	"reminder_assignment_due": {required: []string{"link", "what", "due", "days"},
		blocks: []mailBlock{mailPara("p1"), mailAction("action", "link")}},
	// The same two when the learner's organisation requires them though
	// the learner has not asked for reminders: essential, so without an
	// unsubscribe link that would not stop them; they say why they come.
	// Their strings are the reminders' (copied in init) and "required".
	"assignment_notice": {essential: true, required: []string{"link", "what", "due"}, optional: []string{"note"},
		blocks: []mailBlock{mailPara("p1"), mailQuote("note"), mailAction("action", "link"), mailPara("p2"), mailPara("required")}},
	"assignment_due": {essential: true, required: []string{"link", "what", "due", "days"},
		blocks: []mailBlock{mailPara("p1"), mailAction("action", "link"), mailPara("required")}},
	"assignment_digest": {essential: true, required: []string{"link", "what", "due", "total", "completed", "overdue"}, optional: []string{"overdue_names", "finished_names"},
		blocks: []mailBlock{mailPara("p1"), mailPara("p2"), mailParaWhen("p3", "overdue_names"), mailQuote("overdue_names"), mailParaWhen("p4", "finished_names"), mailQuote("finished_names"), mailAction("action", "link")}},
}

// mailMessages are the e-mail strings. Every key must exist in every
// language (a test checks this). Placeholders {key} are replaced by the
// data's values.
var mailMessages = map[string]map[string]string{
	"fi": {
		"greeting":          "Hei,",
		"greeting.name":     "Hei {name},",
		"button.fallback":   "Jos painike ei toimi, kopioi tämä osoite selaimen osoiteriville:",
		"footer.auto":       "Tämä viesti on lähetetty automaattisesti.",
		"unsubscribe.text":  "Etkö halua enää muistutuksia?",
		"unsubscribe.label": "Lopeta muistutukset yhdellä napsautuksella",

		"password_reset.subject": "Uuden salasanan asettaminen",
		"password_reset.p1":      "Saimme pyynnön asettaa käyttäjätilillesi uusi salasana. Voit asettaa uuden salasanan alla olevan linkin kautta.",
		"password_reset.p2":      "Linkki on voimassa tunnin, ja sitä voi käyttää vain kerran.",
		"password_reset.action":  "Aseta uusi salasana",
		"password_reset.p3":      "Jos et pyytänyt uutta salasanaa, voit jättää tämän viestin huomiotta. Salasanasi pysyy ennallaan.",

		"password_changed.subject": "Salasanasi on vaihdettu",
		"password_changed.p1":      "Käyttäjätilisi salasana on vaihdettu. Jos vaihdoit sen itse, sinun ei tarvitse tehdä mitään.",
		"password_changed.p2":      "Jos et vaihtanut salasanaa itse, joku muu on saattanut päästä käsiksi tiliisi. Vaihda tällöin salasana heti alla olevan linkin kautta ja ilmoita asiasta palvelun ylläpitäjälle.",
		"password_changed.action":  "Pyydä uusi salasana",

		"verify_email.subject": "Vahvista sähköpostiosoitteesi",
		"verify_email.p1":      "Vahvista, että tämä sähköpostiosoite kuuluu sinulle, avaamalla alla oleva linkki. Linkki on voimassa 24 tuntia.",
		"verify_email.p2":      "Kurssin todistus myönnetään vain käyttäjälle, jonka sähköpostiosoite on vahvistettu.",
		"verify_email.action":  "Vahvista sähköpostiosoite",
		"verify_email.p3":      "Jos et ole luonut käyttäjätiliä etkä lisännyt tätä osoitetta tiliisi, voit jättää tämän viestin huomiotta.",

		"email_changed.subject": "Sähköpostiosoitteesi on vaihdettu",
		"email_changed.p1":      "Käyttäjätilisi sähköpostiosoite on vaihdettu osoitteeseen {new_email}. Lähetämme tämän ilmoituksen tilin aiempaan osoitteeseen.",
		"email_changed.p2":      "Jos et tehnyt muutosta itse, ota viipymättä yhteyttä palvelun ylläpitäjään.",

		"register_exists.subject": "Sinulla on jo käyttäjätili",
		"register_exists.p1":      "Joku, mahdollisesti sinä itse, yritti ottaa tämän sähköpostiosoitteen käyttöön toisella käyttäjätilillä. Osoitteella on jo käyttäjätili, joten muutosta ei tehty.",
		"register_exists.p2":      "Voit kirjautua sisään nykyisellä tililläsi tai asettaa sille uuden salasanan alla olevan linkin kautta.",
		"register_exists.action":  "Kirjaudu tai vaihda salasana",
		"register_exists.p3":      "Jos et itse yrittänyt rekisteröityä, voit jättää tämän viestin huomiotta. Tiliisi ei ole tehty muutoksia.",

		"certificate_issued.subject": "Todistuksesi on myönnetty",
		"certificate_issued.p1":      "Onnittelut! Olet suorittanut kurssin ”{course}” hyväksytysti, ja sinulle on myönnetty siitä todistus.",
		"certificate_issued.p2":      "Todistus on sähköisesti allekirjoitettu, ja kuka tahansa voi tarkistaa sen aitouden todistuksen julkiselta tarkistussivulta. Voit jakaa sivun osoitteen esimerkiksi työnantajallesi.",
		"certificate_issued.action":  "Avaa todistuksen tarkistussivu",

		"feedback_answered.subject": "Vastaus palautteeseesi",
		"feedback_answered.p1":      "Kiitos palautteestasi. Vastauksemme:",
		"feedback_answered.action":  "Lue vastaus palvelussa",

		"role_changed.subject": "Käyttäjäroolisi on muuttunut",
		"role_changed.p1":      "Ylläpitäjä on muuttanut käyttäjätilisi roolia. Uusi rooli: {role}.",
		"role_changed.p2":      "Rooli määrää, mitä toimintoja voit palvelussa käyttää. Jos muutos on mielestäsi virheellinen, ota yhteyttä palvelun ylläpitäjään.",

		"totp_enabled.subject": "Kaksivaiheinen tunnistautuminen on otettu käyttöön",
		"totp_enabled.p1":      "Käyttäjätilisi kaksivaiheinen tunnistautuminen on otettu käyttöön. Kirjautuessasi tarvitset jatkossa salasanan lisäksi todennussovelluksen antaman koodin.",
		"totp_enabled.p2":      "Jos et tehnyt muutosta itse, joku muu on saattanut päästä käsiksi tiliisi. Ota tällöin heti yhteyttä palvelun ylläpitäjään.",

		"totp_disabled.subject": "Kaksivaiheinen tunnistautuminen on poistettu käytöstä",
		"totp_disabled.p1":      "Käyttäjätilisi kaksivaiheinen tunnistautuminen on poistettu käytöstä. Kirjautumiseen riittää nyt salasana.",
		"totp_disabled.p2":      "Jos et poistanut tunnistautumista käytöstä itse etkä pyytänyt sitä ylläpitäjältä, vaihda salasanasi heti, ota kaksivaiheinen tunnistautuminen uudelleen käyttöön ja ilmoita asiasta palvelun ylläpitäjälle.",

		"account_deleted.subject": "Käyttäjätilisi on poistettu",
		"account_deleted.p1":      "Käyttäjätilisi ja siihen liittyvät opintotiedot, kuten opintojesi eteneminen ja vastauksesi, on poistettu pysyvästi.",
		"account_deleted.p2":      "Sinulle myönnetyt todistukset on peruttu: niiden julkinen tarkistussivu kertoo nyt, että todistus on peruttu tilin poistamisen vuoksi, eikä siinä näy enää nimeäsi.",
		"account_deleted.p3":      "Jos et pyytänyt tilisi poistamista, ota yhteyttä palvelun ylläpitäjään.",

		"exam_extension.subject": "Lisäaikaa loppukokeeseen",
		"exam_extension.p1":      "Ylläpitäjä on muuttanut loppukokeen aikarajaasi: {extension}. Muutos koskee myös jo aloitettua, avoinna olevaa yritystä.",
		"exam_extension.p2":      "Pääset kokeeseen kirjautumalla palveluun.",

		"reminder_inactive.subject":    "Jatka siitä, mihin jäit",
		"reminder_inactive.p1":         "Edellisestä käynnistäsi kurssilla on kulunut {days} päivää. Opinnot etenevät parhaiten säännöllisesti, ja lyhytkin opiskeluhetki vie eteenpäin.",
		"reminder_inactive.p2.section": "Voit jatkaa suoraan kohdasta ”{section}”.",
		"reminder_inactive.p2":         "Voit jatkaa suoraan siitä, mihin viimeksi jäit.",
		"reminder_inactive.action":     "Jatka opintoja",

		"reminder_exam_deadline.subject": "Loppukokeen määräaika lähestyy",
		"reminder_exam_deadline.p1":      "Muistutamme, että loppukoe on suoritettava viimeistään {deadline}.",
		"reminder_exam_deadline.p2":      "Hyväksytysti suoritetusta kokeesta saat todistuksen, jonka aitouden kuka tahansa voi tarkistaa.",
		"reminder_exam_deadline.action":  "Siirry loppukokeeseen",

		"test.subject": "Testiviesti",
		"test.p1":      "Tämä on testiviesti, joka lähetettiin palvelun ylläpitosivulta.",
		"test.p2":      "Sähköpostien lähetys toimii. Viestiin ei tarvitse vastata.",

		"reminder_assignment.subject": "Sinulle on määrätty opintoja",
		"reminder_assignment.p1":      "Organisaatiosi on määrännyt sinulle verkkokurssin opintoja: {what}. Määräpäivä on {due}.",
		"reminder_assignment.action":  "Katso omat opintosi",
		"reminder_assignment.p2":      "Näet määrätyt opinnot ja niiden määräpäivät kohdassa Omat opinnot, josta voit myös lisätä määräpäivät kalenteriisi.",

		"reminder_assignment_due.subject": "Määrättyjen opintojen määräpäivä lähestyy",
		"reminder_assignment_due.p1":      "Muistutamme, että sinulle määrätyt opinnot ({what}) on suoritettava viimeistään {due}. Aikaa on {days} päivää.",
		"reminder_assignment_due.action":  "Jatka opintoja",

		"assignment_digest.subject": "Viikkokooste määräämistäsi opinnoista",
		"assignment_digest.p1":      "Määräämäsi opinnot: {what}, määräpäivä {due}.",
		"assignment_digest.p2":      "Määrätty {total} henkilölle: suorittaneita {completed}, myöhässä {overdue}.",
		"assignment_digest.p3":      "Myöhässä ovat:",
		"assignment_digest.p4":      "Viimeisen viikon aikana suorittivat:",
		"assignment_digest.action":  "Katso tilanne",

		"invitation.subject": "Kutsu verkkokurssille",
		"invitation.p1.unit": "{org} kutsuu sinut verkkokurssille yksikön {unit} jäseneksi.",
		"invitation.p1":      "{org} kutsuu sinut verkkokurssille.",
		"invitation.action":  "Luo tilisi",
		"invitation.p2":      "Linkki toimii kerran, {expires} asti. Jos et odottanut kutsua, voit jättää viestin huomiotta.",
	},
	"sv": {
		"greeting":          "Hej,",
		"greeting.name":     "Hej {name},",
		"button.fallback":   "Om knappen inte fungerar, kopiera den här adressen till webbläsarens adressfält:",
		"footer.auto":       "Det här meddelandet har skickats automatiskt.",
		"unsubscribe.text":  "Vill du inte längre få påminnelser?",
		"unsubscribe.label": "Avsluta påminnelserna med ett klick",

		"password_reset.subject": "Ange ett nytt lösenord",
		"password_reset.p1":      "Vi har fått en begäran om att ange ett nytt lösenord för ditt användarkonto. Du kan ange ett nytt lösenord via länken nedan.",
		"password_reset.p2":      "Länken gäller i en timme och kan användas endast en gång.",
		"password_reset.action":  "Ange ett nytt lösenord",
		"password_reset.p3":      "Om du inte har begärt ett nytt lösenord kan du bortse från det här meddelandet. Ditt lösenord förblir oförändrat.",

		"password_changed.subject": "Ditt lösenord har ändrats",
		"password_changed.p1":      "Lösenordet till ditt användarkonto har ändrats. Om du själv ändrade det behöver du inte göra något.",
		"password_changed.p2":      "Om du inte själv ändrade lösenordet kan någon annan ha fått tillgång till ditt konto. Byt då genast lösenord via länken nedan och meddela tjänstens administratör.",
		"password_changed.action":  "Begär ett nytt lösenord",

		"verify_email.subject": "Bekräfta din e-postadress",
		"verify_email.p1":      "Bekräfta att den här e-postadressen tillhör dig genom att öppna länken nedan. Länken gäller i 24 timmar.",
		"verify_email.p2":      "Kursintyg utfärdas endast till användare vars e-postadress har bekräftats.",
		"verify_email.action":  "Bekräfta e-postadressen",
		"verify_email.p3":      "Om du inte har skapat ett användarkonto eller lagt till den här adressen i ditt konto kan du bortse från det här meddelandet.",

		"email_changed.subject": "Din e-postadress har ändrats",
		"email_changed.p1":      "E-postadressen för ditt användarkonto har ändrats till {new_email}. Det här meddelandet skickas till kontots tidigare adress.",
		"email_changed.p2":      "Om det inte var du som gjorde ändringen, kontakta tjänstens administratör utan dröjsmål.",

		"register_exists.subject": "Du har redan ett användarkonto",
		"register_exists.p1":      "Någon, kanske du själv, försökte använda den här e-postadressen för ett annat användarkonto. Det finns redan ett konto med adressen, så ingen ändring gjordes.",
		"register_exists.p2":      "Du kan logga in med ditt befintliga konto eller ange ett nytt lösenord för det via länken nedan.",
		"register_exists.action":  "Logga in eller byt lösenord",
		"register_exists.p3":      "Om det inte var du som försökte registrera dig kan du bortse från det här meddelandet. Inga ändringar har gjorts i ditt konto.",

		"certificate_issued.subject": "Ditt intyg har utfärdats",
		"certificate_issued.p1":      "Grattis! Du har genomfört kursen ”{course}” med godkänt resultat och har fått ett intyg över den.",
		"certificate_issued.p2":      "Intyget är digitalt signerat, och vem som helst kan kontrollera att det är äkta på intygets offentliga kontrollsida. Du kan dela sidans adress till exempel med din arbetsgivare.",
		"certificate_issued.action":  "Öppna intygets kontrollsida",

		"feedback_answered.subject": "Svar på din respons",
		"feedback_answered.p1":      "Tack för din respons. Vårt svar:",
		"feedback_answered.action":  "Läs svaret i tjänsten",

		"role_changed.subject": "Din användarroll har ändrats",
		"role_changed.p1":      "En administratör har ändrat rollen för ditt användarkonto. Ny roll: {role}.",
		"role_changed.p2":      "Rollen avgör vilka funktioner du kan använda i tjänsten. Om du anser att ändringen är felaktig, kontakta tjänstens administratör.",

		"totp_enabled.subject": "Tvåstegsverifiering har aktiverats",
		"totp_enabled.p1":      "Tvåstegsverifiering har aktiverats för ditt användarkonto. När du loggar in behöver du i fortsättningen utöver lösenordet också en kod från din autentiseringsapp.",
		"totp_enabled.p2":      "Om det inte var du som gjorde ändringen kan någon annan ha fått tillgång till ditt konto. Kontakta då genast tjänstens administratör.",

		"totp_disabled.subject": "Tvåstegsverifiering har stängts av",
		"totp_disabled.p1":      "Tvåstegsverifieringen har stängts av för ditt användarkonto. Nu räcker lösenordet för att logga in.",
		"totp_disabled.p2":      "Om du inte själv stängde av den eller bad en administratör att göra det, byt genast lösenord, aktivera tvåstegsverifieringen på nytt och meddela tjänstens administratör.",

		"account_deleted.subject": "Ditt användarkonto har raderats",
		"account_deleted.p1":      "Ditt användarkonto och uppgifterna om dina studier, såsom dina framsteg och svar, har raderats permanent.",
		"account_deleted.p2":      "Intyg som utfärdats till dig har återkallats: deras offentliga kontrollsida visar nu att intyget återkallades när kontot raderades, och ditt namn syns inte längre där.",
		"account_deleted.p3":      "Om du inte har begärt att kontot ska raderas, kontakta tjänstens administratör.",

		"exam_extension.subject": "Mer tid för slutprovet",
		"exam_extension.p1":      "Administratören har ändrat din tidsgräns för slutprovet: {extension}. Ändringen gäller också ett försök som redan pågår.",
		"exam_extension.p2":      "Du kommer till provet genom att logga in i tjänsten.",

		"reminder_inactive.subject":    "Fortsätt där du slutade",
		"reminder_inactive.p1":         "Det har gått {days} dagar sedan du senast besökte kursen. Studierna framskrider bäst när de är regelbundna, och redan en kort stund tar dig framåt.",
		"reminder_inactive.p2.section": "Du kan fortsätta direkt från avsnittet ”{section}”.",
		"reminder_inactive.p2":         "Du kan fortsätta direkt där du senast slutade.",
		"reminder_inactive.action":     "Fortsätt studera",

		"reminder_exam_deadline.subject": "Tidsfristen för slutprovet närmar sig",
		"reminder_exam_deadline.p1":      "Vi vill påminna om att slutprovet ska avläggas senast {deadline}.",
		"reminder_exam_deadline.p2":      "Ett godkänt prov ger dig ett intyg vars äkthet vem som helst kan kontrollera.",
		"reminder_exam_deadline.action":  "Gå till slutprovet",

		"test.subject": "Testmeddelande",
		"test.p1":      "Det här är ett testmeddelande som skickades från tjänstens administrationssida.",
		"test.p2":      "E-postutskicket fungerar. Du behöver inte svara på meddelandet.",

		"reminder_assignment.subject": "Du har tilldelats studier",
		"reminder_assignment.p1":      "Din organisation har tilldelat dig studier på webbkursen: {what}. Förfallodagen är {due}.",
		"reminder_assignment.action":  "Se dina studier",
		"reminder_assignment.p2":      "Du ser de tilldelade studierna och deras förfallodagar under Mina studier, där du också kan lägga till förfallodagarna i din kalender.",

		"reminder_assignment_due.subject": "Förfallodagen för dina tilldelade studier närmar sig",
		"reminder_assignment_due.p1":      "Vi påminner om att de studier du har tilldelats ({what}) ska vara slutförda senast {due}. Det återstår {days} dagar.",
		"reminder_assignment_due.action":  "Fortsätt studierna",

		"assignment_digest.subject": "Veckosammandrag av studier du har tilldelat",
		"assignment_digest.p1":      "Studier du har tilldelat: {what}, förfallodag {due}.",
		"assignment_digest.p2":      "Tilldelade {total} personer: {completed} har slutfört, {overdue} är försenade.",
		"assignment_digest.p3":      "Försenade är:",
		"assignment_digest.p4":      "Under den senaste veckan slutförde:",
		"assignment_digest.action":  "Se läget",

		"invitation.subject": "Inbjudan till webbkursen",
		"invitation.p1.unit": "{org} bjuder in dig till webbkursen som medlem i enheten {unit}.",
		"invitation.p1":      "{org} bjuder in dig till webbkursen.",
		"invitation.action":  "Skapa ditt konto",
		"invitation.p2":      "Länken fungerar en gång, till och med {expires}. Om du inte väntade dig inbjudan kan du lämna meddelandet utan åtgärd.",
	},
	"en": {
		"greeting":          "Hello,",
		"greeting.name":     "Hello {name},",
		"button.fallback":   "If the button does not work, copy this address into your browser's address bar:",
		"footer.auto":       "This message was sent automatically.",
		"unsubscribe.text":  "No longer want reminders?",
		"unsubscribe.label": "Stop reminders with one click",

		"password_reset.subject": "Set a new password",
		"password_reset.p1":      "We received a request to set a new password for your account. You can set a new password using the link below.",
		"password_reset.p2":      "The link is valid for one hour and can be used only once.",
		"password_reset.action":  "Set a new password",
		"password_reset.p3":      "If you did not ask for a new password, you can ignore this message. Your password stays unchanged.",

		"password_changed.subject": "Your password has been changed",
		"password_changed.p1":      "The password of your account has been changed. If you changed it yourself, you do not need to do anything.",
		"password_changed.p2":      "If you did not change the password yourself, someone else may have gained access to your account. Reset your password at once using the link below and tell the service administrator.",
		"password_changed.action":  "Request a new password",

		"verify_email.subject": "Verify your email address",
		"verify_email.p1":      "Please confirm that this email address belongs to you by opening the link below. The link is valid for 24 hours.",
		"verify_email.p2":      "Course certificates are issued only to users whose email address has been verified.",
		"verify_email.action":  "Verify email address",
		"verify_email.p3":      "If you did not create an account or add this address to your account, you can ignore this message.",

		"email_changed.subject": "Your email address has been changed",
		"email_changed.p1":      "The email address of your account has been changed to {new_email}. This notice is sent to the account's previous address.",
		"email_changed.p2":      "If you did not make this change, contact the service administrator without delay.",

		"register_exists.subject": "You already have an account",
		"register_exists.p1":      "Someone, perhaps you, tried to use this email address for another account. An account with this address already exists, so nothing was changed.",
		"register_exists.p2":      "You can sign in with your existing account, or set a new password for it, using the link below.",
		"register_exists.action":  "Sign in or reset password",
		"register_exists.p3":      "If this was not you, you can ignore this message. No changes have been made to your account.",

		"certificate_issued.subject": "Your certificate has been issued",
		"certificate_issued.p1":      "Congratulations! You have passed the course “{course}” and have been issued a certificate.",
		"certificate_issued.p2":      "The certificate is digitally signed, and anyone can verify that it is genuine on its public verification page. You can share the page's address with your employer, for example.",
		"certificate_issued.action":  "Open the verification page",

		"feedback_answered.subject": "Reply to your feedback",
		"feedback_answered.p1":      "Thank you for your feedback. Our reply:",
		"feedback_answered.action":  "Read the reply online",

		"role_changed.subject": "Your user role has changed",
		"role_changed.p1":      "An administrator has changed the role of your account. New role: {role}.",
		"role_changed.p2":      "Your role determines which functions you can use in the service. If you think the change is a mistake, contact the service administrator.",

		"totp_enabled.subject": "Two-factor authentication turned on",
		"totp_enabled.p1":      "Two-factor authentication has been turned on for your account. From now on, signing in requires a code from your authenticator app in addition to your password.",
		"totp_enabled.p2":      "If you did not make this change, someone else may have gained access to your account. Contact the service administrator at once.",

		"totp_disabled.subject": "Two-factor authentication turned off",
		"totp_disabled.p1":      "Two-factor authentication has been turned off for your account. Signing in now requires only your password.",
		"totp_disabled.p2":      "If you did not turn it off yourself or ask an administrator to do so, change your password at once, turn two-factor authentication back on and tell the service administrator.",

		"account_deleted.subject": "Your account has been deleted",
		"account_deleted.p1":      "Your account and your study data, such as your progress and answers, have been permanently deleted.",
		"account_deleted.p2":      "Certificates issued to you have been withdrawn: their public verification page now says that the certificate was withdrawn when the account was deleted, and no longer shows your name.",
		"account_deleted.p3":      "If you did not ask for your account to be deleted, contact the service administrator.",

		"exam_extension.subject": "Extension for the final exam",
		"exam_extension.p1":      "An administrator has changed your time limit for the final exam: {extension}. The change also applies to an attempt already in progress.",
		"exam_extension.p2":      "You can reach the exam by signing in to the service.",

		"reminder_inactive.subject":    "Pick up where you left off",
		"reminder_inactive.p1":         "It has been {days} days since you last visited the course. Studies progress best at a steady pace, and even a short session moves you forward.",
		"reminder_inactive.p2.section": "You can continue directly from “{section}”.",
		"reminder_inactive.p2":         "You can continue directly where you left off.",
		"reminder_inactive.action":     "Continue studying",

		"reminder_exam_deadline.subject": "The final exam deadline is approaching",
		"reminder_exam_deadline.p1":      "This is a reminder that the final exam must be completed by {deadline}.",
		"reminder_exam_deadline.p2":      "Passing the exam gives you a certificate whose authenticity anyone can verify.",
		"reminder_exam_deadline.action":  "Go to the final exam",

		"test.subject": "Test message",
		"test.p1":      "This is a test message sent from the service's administration page.",
		"test.p2":      "Email delivery works. You do not need to reply to this message.",

		"reminder_assignment.subject": "Studies have been assigned to you",
		"reminder_assignment.p1":      "Your organisation has assigned you studies on the online course: {what}. They are due on {due}.",
		"reminder_assignment.action":  "See your studies",
		"reminder_assignment.p2":      "My studies shows what is assigned to you and when it is due; you can add the due dates to your calendar there too.",

		"reminder_assignment_due.subject": "Your assigned studies are due soon",
		"reminder_assignment_due.p1":      "A reminder that the studies assigned to you ({what}) are due on {due}. There are {days} days left.",
		"reminder_assignment_due.action":  "Continue studying",

		"assignment_digest.subject": "Weekly digest of the studies you assigned",
		"assignment_digest.p1":      "Studies you assigned: {what}, due on {due}.",
		"assignment_digest.p2":      "Assigned to {total} people: {completed} completed, {overdue} overdue.",
		"assignment_digest.p3":      "Overdue:",
		"assignment_digest.p4":      "Completed in the past week:",
		"assignment_digest.action":  "See the standing",

		"invitation.subject": "Invitation to the online course",
		"invitation.p1.unit": "{org} invites you to the online course as a member of the unit {unit}.",
		"invitation.p1":      "{org} invites you to the online course.",
		"invitation.action":  "Create your account",
		"invitation.p2":      "The link works once, until {expires}. If you did not expect the invitation, you can ignore this message.",
	},
}

// MailKinds lists every message kind RenderMail knows (sorted).
func MailKinds() []string {
	kinds := make([]string, 0, len(mailKinds))
	for k := range mailKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// MailEssential reports whether kind is essential (account security,
// things the person asked for). Non-essential kinds (reminders) need an
// "unsubscribe" URL in their data, show it in both bodies, and should be
// sent with List-Unsubscribe headers. An unknown kind is not essential.
func MailEssential(kind string) bool { return mailKinds[kind].essential }

// The views the layouts render.
type (
	mailView struct {
		Lang, Subject, Greeting string
		Blocks                  []mailViewBlock
		ButtonFallback          string
		SiteName, SiteURL, Auto string
		Unsubscribe             *mailViewUnsubscribe
	}
	mailViewBlock struct {
		Text       string     // a paragraph
		Label, URL string     // an action
		Quote      [][]string // a quotation: paragraphs of lines
	}
	mailViewUnsubscribe struct{ Text, Label, URL string }
)

var (
	mailHTML = htmltemplate.Must(htmltemplate.New("layout.html").ParseFS(files, "mail/layout.html"))
	mailText = texttemplate.Must(texttemplate.New("layout.txt").Funcs(texttemplate.FuncMap{
		"wrap": func(s string) string { return wrapText(s, "", mailWidth) },
		"quote": func(q [][]string) string {
			var b strings.Builder
			for i, p := range q {
				if i > 0 {
					b.WriteString(">\n")
				}
				for _, line := range p {
					b.WriteString(wrapText(line, "> ", mailWidth))
				}
			}
			return b.String()
		},
	}).ParseFS(files, "mail/layout.txt"))
)

// RenderMail renders kind in lang (fi, sv or en; anything else falls
// back to fi) with data. Every kind needs site_url (the platform's
// absolute base URL); name (the recipient's display name) is optional;
// non-essential kinds need unsubscribe (an absolute URL). The errors wrap
// ErrMailKind or ErrMailData.
func RenderMail(kind, lang string, data map[string]string) (Mail, error) {
	k, ok := mailKinds[kind]
	if !ok {
		return Mail{}, fmt.Errorf("%w: %q", ErrMailKind, kind)
	}
	if _, ok := mailMessages[lang]; !ok {
		lang = "fi"
	}
	if err := checkMailData(kind, k, data); err != nil {
		return Mail{}, err
	}
	has := func(key string) bool { return strings.TrimSpace(data[key]) != "" }
	msg := func(key string) (string, error) {
		s, ok := mailMessages[lang][key]
		if !ok {
			return "", fmt.Errorf("web: mail: no string %q in %s", key, lang)
		}
		return substitute(s, kind, k, data)
	}

	v := mailView{Lang: lang, SiteURL: data["site_url"], SiteName: T(lang, "site.main") + " " + T(lang, "site.sub")}
	var err error
	if v.Subject, err = msg(kind + ".subject"); err != nil {
		return Mail{}, err
	}
	greeting := "greeting"
	if has("name") {
		greeting = "greeting.name"
	}
	if v.Greeting, err = msg(greeting); err != nil {
		return Mail{}, err
	}
	if v.ButtonFallback, err = msg("button.fallback"); err != nil {
		return Mail{}, err
	}
	if v.Auto, err = msg("footer.auto"); err != nil {
		return Mail{}, err
	}
	for _, b := range k.blocks {
		if b.when != "" && !has(b.when) || b.unless != "" && has(b.unless) {
			continue
		}
		var vb mailViewBlock
		switch {
		case b.link != "":
			if !has(b.link) {
				continue
			}
			vb.URL = data[b.link]
			vb.Label, err = msg(kind + "." + b.text)
		case b.quote != "":
			vb.Quote = splitParagraphs(data[b.quote])
			if len(vb.Quote) == 0 {
				continue
			}
		default:
			vb.Text, err = msg(kind + "." + b.text)
		}
		if err != nil {
			return Mail{}, err
		}
		v.Blocks = append(v.Blocks, vb)
	}
	if !k.essential {
		u := &mailViewUnsubscribe{URL: data["unsubscribe"]}
		if u.Text, err = msg("unsubscribe.text"); err != nil {
			return Mail{}, err
		}
		if u.Label, err = msg("unsubscribe.label"); err != nil {
			return Mail{}, err
		}
		v.Unsubscribe = u
	}

	var text, html bytes.Buffer
	if err := mailText.Execute(&text, v); err != nil {
		return Mail{}, fmt.Errorf("web: mail %s: text: %w", kind, err)
	}
	if err := mailHTML.Execute(&html, v); err != nil {
		return Mail{}, fmt.Errorf("web: mail %s: html: %w", kind, err)
	}
	return Mail{Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// keys are the data keys kind k accepts, each with whether it is
// required.
func (k mailKind) keys() map[string]bool {
	keys := map[string]bool{"site_url": true, "name": false}
	if !k.essential {
		keys["unsubscribe"] = true
	}
	for _, key := range k.required {
		keys[key] = true
	}
	for _, key := range k.optional {
		keys[key] = false
	}
	return keys
}

// checkMailData checks data against kind k.
func checkMailData(kind string, k mailKind, data map[string]string) error {
	keys := k.keys()
	names := make([]string, 0, len(data))
	for key := range data {
		names = append(names, key)
	}
	sort.Strings(names)
	for _, key := range names {
		if _, ok := keys[key]; !ok {
			return fmt.Errorf("%w: %s does not use %q", ErrMailData, kind, key)
		}
		if err := checkMailValue(key, data[key]); err != nil {
			return fmt.Errorf("%w: %s: %q %s", ErrMailData, kind, key, err)
		}
	}
	names = names[:0]
	for key, req := range keys {
		if req {
			names = append(names, key)
		}
	}
	sort.Strings(names)
	for _, key := range names {
		if strings.TrimSpace(data[key]) == "" {
			return fmt.Errorf("%w: %s needs %q", ErrMailData, kind, key)
		}
	}
	return nil
}

// checkMailValue checks one value; the error says what is wrong.
func checkMailValue(key, v string) error {
	multi := mailMultiLine[key]
	max := mailMaxLine
	if multi {
		max = mailMaxMulti
	}
	if len(v) > max {
		return fmt.Errorf("is longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return errors.New("is not valid UTF-8")
	}
	for i, r := range v {
		if multi && (r == '\n' || r == '\r' && strings.HasPrefix(v[i:], "\r\n")) {
			continue
		}
		if isMailControl(r) {
			return fmt.Errorf("has the control character %U", r)
		}
	}
	if mailURLKeys[key] {
		if err := checkMailURL(v); err != nil {
			return err
		}
	}
	return nil
}

// isMailControl reports whether r is a control character: C0 and C1
// controls, line and paragraph separators, and the bidirectional
// formatting characters that could disguise text.
func isMailControl(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

// checkMailURL accepts an absolute http or https URL with a host and
// without user information or spaces.
func checkMailURL(v string) error {
	if v == "" {
		return nil // "missing" is reported separately
	}
	bad := errors.New("is not an absolute http(s) URL")
	if strings.ContainsFunc(v, unicode.IsSpace) {
		return bad
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" || u.User != nil {
		return bad
	}
	if !strings.HasPrefix(strings.ToLower(v), u.Scheme+"://") {
		return bad
	}
	return nil
}

// substitute replaces the placeholders {key} of s with data's values.
// The values are not scanned again, so a value may contain braces. A
// placeholder the kind does not accept is a programming error.
func substitute(s, kind string, k mailKind, data map[string]string) (string, error) {
	keys := k.keys()
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("web: mail %s: unclosed placeholder in %q", kind, s)
		}
		key := s[i+1 : i+j]
		if _, ok := keys[key]; !ok {
			return "", fmt.Errorf("web: mail %s: unknown placeholder {%s}", kind, key)
		}
		b.WriteString(s[:i])
		b.WriteString(data[key])
		s = s[i+j+1:]
	}
}

// splitParagraphs splits multi-line text into paragraphs (separated by
// blank lines) of lines, without trailing spaces.
func splitParagraphs(s string) [][]string {
	var paras [][]string
	var cur []string
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimRight(line, " ")
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				paras = append(paras, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		paras = append(paras, cur)
	}
	return paras
}

// wrapText breaks s at spaces into lines of at most width characters
// (including prefix), each starting with prefix and ending in a newline.
// A word longer than a line, such as a URL, is kept whole on its own line.
func wrapText(s, prefix string, width int) string {
	var b strings.Builder
	n := 0 // characters on the current line
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		wl := utf8.RuneCountInString(w)
		switch {
		case n == 0:
		case n+1+wl <= width:
			b.WriteByte(' ')
			n++
		default:
			b.WriteByte('\n')
			n = 0
		}
		if n == 0 {
			b.WriteString(prefix)
			n = utf8.RuneCountInString(prefix)
		}
		b.WriteString(w)
		n += wl
	}
	if n > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

// The organisation-required assignment e-mails say what the reminders
// say, and why they come.
func init() {
	required := map[string]string{
		"fi": "Saat tämän viestin, koska organisaatiosi edellyttää määrättyjen opintojen muistutuksia, vaikka et ole tilannut opintomuistutuksia.",
		"sv": "Du får det här meddelandet eftersom din organisation kräver påminnelser om tilldelade studier, även om du inte har beställt studiepåminnelser.",
		"en": "You get this message because your organisation requires reminders of assigned studies, although you have not asked for study reminders.",
	}
	for lang, msgs := range mailMessages {
		for from, to := range map[string]string{"reminder_assignment": "assignment_notice", "reminder_assignment_due": "assignment_due"} {
			for _, part := range []string{"subject", "p1", "p2", "action"} {
				if s, ok := msgs[from+"."+part]; ok {
					msgs[to+"."+part] = s
				}
			}
			msgs[to+".required"] = required[lang]
		}
	}
}
