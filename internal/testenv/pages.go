package testenv

// State is what a page needs before it can be shown.
type State string

// Page states.
const (
	Anonymous State = "anonymous"
	SignedIn  State = "signed in"
	Author    State = "author"
	// SecondFactor: password given, two-factor code still to enter.
	SecondFactor State = "second factor"
	// Admin: an administrator signed in with two-factor authentication.
	Admin State = "admin"
)

// Page is one page type of the platform, at an address in the bundled
// course.
type Page struct {
	Name   string
	Path   string
	State  State
	Status int
}

// Pages is the page registry (a path's {attempt} is an open exam attempt
// of the page's learner, {submitted} a submitted one, {certificate} the
// certificate of a passed exam, {verify} and {unsubscribe} a new
// account's link tokens, {message} a message in the outbox, {deeplink} a
// deep linking request of the page's user, {assignment} an open assignment of
// pirkanmaa, {assigned} nothing, after the page's learner is given
// assignments, {invite} a new invitation's token, {invite-mine} one to the signed-in person's address): the browser, accessibility (axe) and HTML
// validity (Nu) suites all check every page listed here. A new page type is
// checked by adding one line; a test fails when a page route has no line.
var Pages = []Page{
	{"front page", "/", Anonymous, 200},
	{"front page in Swedish", "/?lang=sv", Anonymous, 200},
	{"front page in English", "/?lang=en", Anonymous, 200},
	{"module list", "/osiot", Anonymous, 200},
	{"module page", "/osiot/tyokyvyn-tuki", Anonymous, 200},
	{"section with figure, task and contents", "/osiot/tyokyvyn-tuki/palvelupolku", Anonymous, 200},
	{"section with a video and transcript", "/osiot/tyokyvyn-tuki/tyokykyohjelma", Anonymous, 200},
	{"section with a podcast", "/osiot/monialainen-tyo/verkostojen-johtaminen", Anonymous, 200},
	{"section with tables and footnotes", "/osiot/tyokykyjohtaminen/tyoterveysneuvottelu-ja-30-60-90", Anonymous, 200},
	{"section with a wide table", "/osiot/tyokykyjohtaminen/hyvan-tyon-ohjelma-ja-tyonjako", Anonymous, 200},
	{"section with a comparison table", "/osiot/monialainen-tyo/monialainen-ja-moniammatillinen-tyo", Anonymous, 200},
	{"section in English UI", "/osiot/asiakasosallisuus/osallisuuden-muodot?lang=en", Anonymous, 200},
	{"self-check result", "/osiot/asiakasosallisuus/mita-asiakasosallisuus-on/itsetesti?q-t3-osallisuus-ja-lasnaolo=b&m-t3-osallisuuden-kasitteet-0=0&m-t3-osallisuuden-kasitteet-1=2", Anonymous, 200},
	{"self-check result in Swedish UI, signed in", "/osiot/monialainen-tyo/yhdyspinnat/itsetesti?lang=sv&m-t2-yhdyspinnan-kerrokset-0=1", SignedIn, 200},
	{"legislation", "/lainsaadanto", Anonymous, 200},
	{"glossary", "/sanasto", Anonymous, 200},
	{"glossary concept", "/sanasto/osatyokykyisyys", Anonymous, 200},
	{"glossary concept with a long one-word name", "/sanasto/hyvinvointialuestrategia", Anonymous, 200},
	{"glossary search", "/sanasto?q=ty%C3%B6kyvyn+tuen", Anonymous, 200},
	{"concept diagrams", "/sanasto/kaaviot", Anonymous, 200},
	{"not found", "/osiot/ei-ole-olemassa", Anonymous, 404},
	{"sign in", "/kirjaudu", Anonymous, 200},
	{"create an account", "/rekisteroidy", Anonymous, 200},
	{"sign in with the employer's account: no provider for the address", "/kirjaudu/sso?email=joku%40example.fi", Anonymous, 200},
	{"set a new password", "/salasana/uusi?token=x", Anonymous, 200},
	{"invitation to make an account", "/kutsu?token={invite}", Anonymous, 200},
	{"invitation link that does not work", "/kutsu?token=x", Anonymous, 400},
	{"invitation opened signed in with the invited address", "/kutsu?token={invite-mine}", SignedIn, 200},
	{"forgotten password", "/salasana/unohtui", Anonymous, 200},
	{"address verified", "/sahkoposti/vahvista?token={verify}", Anonymous, 200},
	{"verification link that does not work", "/sahkoposti/vahvista?token=x", Anonymous, 400},
	{"stop study reminders", "/viestit/peru?token={unsubscribe}", Anonymous, 200},
	{"administration: outgoing mail", "/yllapito/posti", Admin, 200},
	{"administration: one message", "/yllapito/posti/{message}", Admin, 200},
	{"second factor", "/kirjaudu/vahvista", SecondFactor, 200},
	{"my studies", "/omat-opinnot", SignedIn, 200},
	{"my studies with assignments (one overdue)", "/omat-opinnot?lang=fi{assigned}", SignedIn, 200},
	{"my account", "/tili", SignedIn, 200},
	{"two-factor enrolment", "/tili/kaksivaiheinen", SignedIn, 200},
	{"section, signed in", "/osiot/tyokyvyn-tuki/palvelupolku", SignedIn, 200},
	{"module, signed in", "/osiot/tyokyvyn-tuki", SignedIn, 200},
	{"front page, signed in", "/", SignedIn, 200},
	{"administration: users", "/yllapito/kayttajat", Admin, 200},
	{"administration: learning record stores", "/yllapito/xapi", Admin, 200},
	{"editing a concept", "/sanasto/tyokyky/muokkaa", Admin, 200},
	{"editing a concept with a long one-word name", "/sanasto/hyvinvointialuestrategia/muokkaa", Admin, 200},
	{"accessibility statement", "/saavutettavuus", Anonymous, 200},
	{"accessibility statement in Swedish", "/saavutettavuus?lang=sv", Anonymous, 200},
	{"accessibility statement in English", "/saavutettavuus?lang=en", Anonymous, 200},
	{"privacy notice", "/tietosuoja", Anonymous, 200},
	{"offline page", "/offline", Anonymous, 200},
	{"offline page in Swedish", "/offline?lang=sv", Anonymous, 200},
	{"feedback form", "/palaute", Anonymous, 200},
	{"feedback inbox", "/yllapito/palaute", Admin, 200},
	{"audit log", "/yllapito/loki", Admin, 200},
	{"media library", "/studio/media", Admin, 200},
	{"exam instructions", "/tentti", Anonymous, 200},
	{"exam instructions, signed in", "/tentti", SignedIn, 200},
	{"exam, all questions", "/tentti/{attempt}", SignedIn, 200},
	{"exam, one question", "/tentti/{attempt}?nakyma=yksi&kysymys=3", SignedIn, 200},
	{"exam, check before submitting", "/tentti/{attempt}/tarkista", SignedIn, 200},
	{"exam result", "/tentti/{submitted}/tulos", SignedIn, 200},
	{"certificate, public verification page", "/todistus/{certificate}", Anonymous, 200},
	{"certificate, public page in English", "/todistus/{certificate}?lang=en", Anonymous, 200},
	{"certificate, the holder's view", "/todistus/{certificate}", SignedIn, 200},
	{"my certificates", "/todistukset", SignedIn, 200},
	{"administration: certificates", "/yllapito/todistukset", Admin, 200},
	{"administration: organisations", "/yllapito/organisaatiot", Admin, 200},
	{"administration: one organisation", "/yllapito/organisaatiot/pirkanmaa", Admin, 200},
	{"administration: LTI learning platforms", "/yllapito/lti", Admin, 200},
	{"LTI: a teacher chooses what to place in the platform", "/lti/sisalto/{deeplink}", SignedIn, 200},
	{"LTI dynamic registration with an unknown address", "/lti/rekisteroi/tuntematon?openid_configuration=https%3A%2F%2Fmoodle.example.fi%2F.well-known%2Fopenid-configuration", Anonymous, 404},
	{"LTI login from a platform that is not registered", "/lti/login?iss=https%3A%2F%2Fmoodle.example.fi&login_hint=x&target_link_uri=http%3A%2F%2Flocalhost%2F", Anonymous, 400},
	{"reports", "/raportit", Admin, 200},
	{"assigned studies: choose the organisation", "/raportit/tehtavat", Admin, 200},
	{"assigned studies of an organisation", "/raportit/tehtavat?organisaatio=pirkanmaa", Admin, 200},
	{"one assignment", "/raportit/tehtavat/{assignment}", Admin, 200},
	{"one assignment in Swedish, filtered and sorted", "/raportit/tehtavat/{assignment}?lang=sv&tila=not_started&jarjestys=tila", Admin, 200},
	{"reports of an organisation with units", "/raportit?organisaatio=Pirkanmaan+hyvinvointialue", Admin, 200},
	{"reports in English, one organisation", "/raportit?lang=en&organisaatio=Kainuun+hyvinvointialue&alkaen=2026-01-01", Admin, 200},
	{"studio: content files", "/studio", Admin, 200},
	{"studio: editing a section", "/studio/sisalto/modules/01-tyokyvyn-tuki/02-palvelupolku.md", Admin, 200},
	{"studio: editing a section with a wide table", "/studio/sisalto/modules/04-tyokykyjohtaminen/08-hyvan-tyon-ohjelma-ja-tyonjako.md", Admin, 200},
	{"studio: a section with a table as a learner sees it", "/studio/esikatselu/modules/02-monialainen-tyo/01-monialainen-ja-moniammatillinen-tyo.md", Admin, 200},
	{"studio: editing the course facts", "/studio/sisalto/course.yaml", Admin, 200},
	{"studio: a section as a learner sees it", "/studio/esikatselu/modules/01-tyokyvyn-tuki/02-palvelupolku.md", Admin, 200},
	{"studio: course structure", "/studio/rakenne", Admin, 200},
	{"studio: revision history", "/studio/historia/modules/01-tyokyvyn-tuki/02-palvelupolku.md", Admin, 200},
}
