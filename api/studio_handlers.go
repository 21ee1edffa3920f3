package api

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/web"
)

// The authoring studio: authors and administrators (with two-factor) edit
// the content files in the browser, see the learners' HTML as they type,
// keep drafts, publish with optimistic locking, and go back in history.

// studioHandlers serve the authoring studio: the content files with their
// editor, preview, drafts, publishing and history (here), the structure of
// modules and sections and the figures (studio_structure.go), and the
// media library's pages (studio_media.go).
type studioHandlers struct {
	*core
	// studio is the content store edits are published to (nil: the
	// server shows a fixed course and refuses edits).
	studio *studio.Store
	// pages build the preview and the learner's view as the course's
	// pages are built (players, answer boxes, the section page).
	pages *pageHandlers
	// progress tells how many learners a structure change touches, and
	// its records follow a rename or are set aside by an archive.
	progress *study.Progress
	// media are the media library's handlers, whose catalog, upload and
	// lookup helpers the media pages share (nil: no media library, and
	// those pages are absent).
	media *mediaHandlers
}

// maxStudioText bounds one file's text in the studio.
const maxStudioText = 1 << 20

type studioProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// studioProblems is problems as the studio's JSON and pages show them.
func studioProblems(problems course.Problems) []studioProblem {
	out := make([]studioProblem, len(problems))
	for i, pr := range problems {
		out[i] = studioProblem{File: pr.File, Line: pr.Line, Col: pr.Col, Message: pr.Msg}
	}
	return out
}

// studioPreview is the learners' HTML of a text and the course's
// problems with it (those of the file first).
type studioPreview struct {
	HTML string `json:"html"`
	// Body is HTML as the page shows it: the pipeline's output, sanitized
	// as it is for learners.
	Body     template.HTML   `json:"-"`
	Kind     string          `json:"kind"` // section, module, transcript, data
	Problems []studioProblem `json:"problems"`
	Millis   float64         `json:"ms"`
}

func (h *studioHandlers) studioStore() (*studio.Store, error) {
	store := h.studio
	if store == nil {
		return nil, fiber.NewError(fiber.StatusConflict, "this server shows a fixed course and cannot publish edits")
	}
	return store, nil
}

// preview renders text as the file p of the published course: the same
// pipeline, so the HTML is what learners will get.
func (h *studioHandlers) preview(c *fiber.Ctx, p, text string) (*studioPreview, error) {
	start := time.Now()
	crs, problems := course.Load(course.WithFile(h.published().Course.Tree(), p, []byte(text)))
	out := &studioPreview{Kind: "data"}
	for _, m := range crs.AllModules() {
		if m.File == p && m.Intro != nil {
			out.Kind, out.HTML = "module", m.Intro.HTML
		}
		for _, sec := range m.Sections {
			if sec.File == p && sec.Body != nil {
				// As an anonymous learner gets the page: players in place,
				// answer boxes as sign-in hints.
				lang := h.lang(c)
				out.Kind, out.HTML = "section", answerBoxes(h.pages.withPlayers(sec.Body.HTML, lang), sec, &req{core: h.core, Lang: lang}, nil)
			}
		}
	}
	for _, m := range crs.Media {
		if m.File == p {
			out.Kind, out.HTML = "transcript", m.TranscriptHTML
		}
	}
	// The file's own problems first, then the rest of the course's.
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].File == p && problems[j].File != p })
	out.Problems = studioProblems(problems)
	out.Body = template.HTML(out.HTML) //nolint:gosec // the course pipeline's sanitized output
	out.Millis = float64(time.Since(start).Microseconds()) / 1000
	return out, nil
}

// studioPath is the content path in the route's wildcard, or 404.
func studioPath(c *fiber.Ctx) (string, error) {
	p, err := url.PathUnescape(c.Params("*"))
	if err != nil || !studio.EditablePath(p) {
		return "", fiber.ErrNotFound
	}
	return p, nil
}

type studioEntry struct {
	Path, Name string
	Draft      bool
}

// studioFile is the content file named in the route's wildcard: its path,
// the store, the published text and revision, and its draft (or nil).
type studioFile struct {
	path  string
	store *studio.Store
	data  []byte
	rev   int
	draft *studio.Draft
}

// editData is the editor's page of the file, before its text is chosen.
func (f *studioFile) editData() *studioEditData {
	return &studioEditData{Path: f.path, Draft: f.draft, Status: fiber.StatusOK,
		Figures: strings.HasPrefix(f.path, "modules/") && strings.HasSuffix(f.path, ".md")}
}

// openStudioFile reads the file of the route; a path outside the content
// tree, or a file it does not have, is 404.
func (h *studioHandlers) openStudioFile(c *fiber.Ctx) (*studioFile, error) {
	p, err := studioPath(c)
	if err != nil {
		return nil, err
	}
	return h.openStudioPath(c, p)
}

// openStudioPath reads the content file p with its draft.
func (h *studioHandlers) openStudioPath(c *fiber.Ctx, p string) (*studioFile, error) {
	store, err := h.studioStore()
	if err != nil {
		return nil, err
	}
	data, rev, err := store.File(c.UserContext(), p)
	if errors.Is(err, studio.ErrNoFile) {
		return nil, fiber.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	dr, err := store.DraftOf(c.UserContext(), p)
	if err != nil {
		return nil, err
	}
	return &studioFile{path: p, store: store, data: data, rev: rev, draft: dr}, nil
}

// text is what the author works on: the draft, else the published text,
// with the revision it began from.
func (f *studioFile) text() (string, int) {
	if f.draft != nil {
		return f.draft.Data, f.draft.BaseRev
	}
	return string(f.data), f.rev
}

type studioIndexData struct {
	Groups []studioGroup
}

type studioGroup struct {
	Title string
	Files []studioEntry
}

// studioIndex is the content tree: every editable file, by part.
func (h *studioHandlers) studioIndex(c *fiber.Ctx) error {
	store, err := h.studioStore()
	if err != nil {
		return err
	}
	drafts, err := store.Drafts(c.UserContext())
	if err != nil {
		return err
	}
	pub := h.published()
	lang := h.lang(c)
	groups := map[string]*studioGroup{}
	var order []string
	add := func(key, title string, f studioEntry) {
		g, ok := groups[key]
		if !ok {
			g = &studioGroup{Title: title}
			groups[key] = g
			order = append(order, key)
		}
		g.Files = append(g.Files, f)
	}
	add("course", web.T(lang, "studio.group.course"), studioEntry{Path: "course.yaml", Name: web.T(lang, "studio.file.course")})
	for _, m := range pub.Course.AllModules() {
		title := web.T(lang, "studio.group.module", m.Title)
		if m.Hidden {
			title = web.T(lang, "studio.group.hidden", m.Title)
		}
		add(m.File, title, studioEntry{Path: m.File, Name: web.T(lang, "studio.file.module")})
		for _, sec := range m.Sections {
			add(m.File, title, studioEntry{Path: sec.File, Name: sec.Title})
		}
	}
	add("legislation", web.T(lang, "studio.group.other"), studioEntry{Path: "legislation.yaml", Name: web.T(lang, "studio.file.legislation")})
	if _, ok := pub.Course.Files["glossary/concepts.yaml"]; ok {
		add("legislation", web.T(lang, "studio.group.other"), studioEntry{Path: "glossary/concepts.yaml", Name: web.T(lang, "studio.file.glossary")})
	}
	var exam, media []string
	for p := range pub.Course.Files {
		switch {
		case strings.HasPrefix(p, "exam/") && studio.EditablePath(p):
			exam = append(exam, p)
		case strings.HasPrefix(p, "media/") && studio.EditablePath(p):
			media = append(media, p)
		}
	}
	sort.Strings(exam)
	sort.Strings(media)
	for _, p := range exam {
		add("exam", web.T(lang, "studio.group.exam"), studioEntry{Path: p, Name: path.Base(p)})
	}
	for _, p := range media {
		add("media", web.T(lang, "studio.group.media"), studioEntry{Path: p, Name: path.Base(p)})
	}
	d := &studioIndexData{}
	for _, k := range order {
		g := groups[k]
		for i := range g.Files {
			_, g.Files[i].Draft = drafts[g.Files[i].Path]
		}
		d.Groups = append(d.Groups, *g)
	}
	return h.renderPrivate(c, "studio", "studio.title", d)
}

type studioEditData struct {
	Path     string
	Text     string
	BaseRev  int
	Draft    *studio.Draft
	Preview  *studioPreview
	Notice   string
	Conflict *studio.ConflictError
	Diff     []course.DiffLine
	Status   int
	Figures  bool // the page can have figures (a module's page)
}

// studioEdit is the editor of one file: the draft if there is one, else
// the published text, with its preview.
func (h *studioHandlers) studioEdit(c *fiber.Ctx) error {
	f, err := h.openStudioFile(c)
	if err != nil {
		return err
	}
	p := f.path
	d := f.editData()
	d.Text, d.BaseRev = f.text()
	switch c.Query("ilmoitus") {
	case "julkaistu":
		d.Notice = "studio.published"
	case "palautettu":
		d.Notice = "studio.restored"
	case "kuva":
		d.Notice = "studio.figure.added"
	}
	if d.Preview, err = h.preview(c, p, d.Text); err != nil {
		return err
	}
	return h.renderPrivate(c, "studio_edit", "studio.edit.title", d)
}

// studioSave handles the editor's form: preview, save the draft, publish
// or discard the draft. Refusals answer the editor with the text kept.
func (h *studioHandlers) studioSave(c *fiber.Ctx) error {
	f, err := h.openStudioFile(c)
	if err != nil {
		return err
	}
	p, store := f.path, f.store
	text := strings.ReplaceAll(c.FormValue("text"), "\r\n", "\n")
	if len(text) > maxStudioText {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "the text is longer than 1 MiB")
	}
	baseRev, err := strconv.Atoi(c.FormValue("base_rev"))
	if err != nil || baseRev < 0 {
		return fiber.NewError(fiber.StatusBadRequest, "base_rev must be the revision the text began from")
	}
	by := h.viewerOf(c).User.Email
	d := f.editData()
	d.Text, d.BaseRev = text, baseRev
	draft := studio.Draft{Path: p, Data: text, BaseRev: baseRev, By: by}
	switch c.FormValue("action") {
	case "draft":
		if err := store.SaveDraft(c.UserContext(), draft); err != nil {
			return err
		}
		d.Notice, d.Draft = "studio.saved", &draft
	case "discard":
		if err := store.DiscardDraft(c.UserContext(), p); err != nil {
			return err
		}
		return c.Redirect("/studio/sisalto/"+p, fiber.StatusSeeOther)
	case "publish":
		problems, err := store.Publish(c.UserContext(), p, []byte(text), baseRev, by)
		var conflict *studio.ConflictError
		switch {
		case errors.As(err, &conflict):
			// Both texts survive: the author's stays in the editor (and
			// in the draft), the published one is shown beside it.
			if store.SaveDraft(c.UserContext(), draft) == nil {
				d.Draft = &draft
			}
			d.Conflict, d.Diff, d.Status = conflict, course.LineDiff(conflict.Current, text), fiber.StatusConflict
			d.BaseRev = conflict.Rev
		case err != nil:
			return err
		case len(problems) > 0:
			d.Status = fiber.StatusUnprocessableEntity
		default:
			if err := h.contentChanged(c, "content.publish", p, ""); err != nil {
				return err
			}
			return c.Redirect("/studio/sisalto/"+p+"?ilmoitus=julkaistu", fiber.StatusSeeOther)
		}
	}
	if d.Preview, err = h.preview(c, p, text); err != nil {
		return err
	}
	if err := h.renderForm(c, d.Status, "studio_edit", "studio.edit.title", d); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return nil
}

type studioHistoryData struct {
	Path      string
	Revisions []studio.Revision
	A, B      int
	Diff      []course.DiffLine
	Current   int
}

// studioPathAndStore is the content path of the route (which need not
// exist any more: history) and the store.
func (h *studioHandlers) studioPathAndStore(c *fiber.Ctx) (string, *studio.Store, error) {
	p, err := studioPath(c)
	if err != nil {
		return "", nil, err
	}
	store, err := h.studioStore()
	return p, store, err
}

// studioHistory lists a file's revisions and shows the line diff between
// two of them (?a=&b=; by default the two newest).
func (h *studioHandlers) studioHistory(c *fiber.Ctx) error {
	p, store, err := h.studioPathAndStore(c)
	if err != nil {
		return err
	}
	revs, err := store.History(c.UserContext(), p)
	if err != nil {
		return err
	}
	if len(revs) == 0 {
		return fiber.ErrNotFound
	}
	d := &studioHistoryData{Path: p, Revisions: revs, Current: revs[0].Rev, B: revs[0].Rev, A: revs[0].Rev}
	if len(revs) > 1 {
		d.A = revs[1].Rev
	}
	if v, err := strconv.Atoi(c.Query("a")); err == nil {
		d.A = v
	}
	if v, err := strconv.Atoi(c.Query("b")); err == nil {
		d.B = v
	}
	_, a, errA := store.RevisionData(c.UserContext(), p, d.A)
	_, b, errB := store.RevisionData(c.UserContext(), p, d.B)
	if errA != nil || errB != nil {
		return fiber.NewError(fiber.StatusNotFound, "no such revision of "+p)
	}
	d.Diff = course.LineDiff(string(a), string(b))
	return h.renderPrivate(c, "studio_history", "studio.history.title", d)
}

// studioRestore publishes an earlier revision again, as a new revision.
func (h *studioHandlers) studioRestore(c *fiber.Ctx) error {
	p, store, err := h.studioPathAndStore(c)
	if err != nil {
		return err
	}
	rev, err := strconv.Atoi(c.FormValue("rev"))
	if err != nil || rev < 1 {
		return fiber.NewError(fiber.StatusBadRequest, "rev must be a revision number")
	}
	problems, err := store.Restore(c.UserContext(), p, rev, h.viewerOf(c).User.Email)
	if errors.Is(err, studio.ErrNoFile) {
		return fiber.NewError(fiber.StatusNotFound, "no such revision of "+p)
	}
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, pr := range problems {
			msgs[i] = pr.String()
		}
		return fiber.NewError(fiber.StatusUnprocessableEntity, "revision "+strconv.Itoa(rev)+" does not fit the course as it is now: "+strings.Join(msgs, "; "))
	}
	if err := h.contentChanged(c, "content.restore", p, "revision "+strconv.Itoa(rev)); err != nil {
		return err
	}
	return c.Redirect("/studio/sisalto/"+p+"?ilmoitus=palautettu", fiber.StatusSeeOther)
}

// The studio in the API, for the editor's script.

type studioTextJSON struct {
	Text    string `json:"text"`
	BaseRev int    `json:"base_rev"`
	Path    string `json:"path"`
}

func readStudioJSON(c *fiber.Ctx) (*studioTextJSON, error) {
	var in studioTextJSON
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return nil, fiber.NewError(fiber.StatusBadRequest, `the body must be JSON: {"text": "…", "base_rev": N}`)
	}
	if len(in.Text) > maxStudioText {
		return nil, fiber.NewError(fiber.StatusRequestEntityTooLarge, "the text is longer than 1 MiB")
	}
	in.Text = strings.ReplaceAll(in.Text, "\r\n", "\n")
	return &in, nil
}

// studioFileAndText is the file of the route and the JSON text sent for it.
func (h *studioHandlers) studioFileAndText(c *fiber.Ctx) (*studioFile, *studioTextJSON, error) {
	f, err := h.openStudioFile(c)
	if err != nil {
		return nil, nil, err
	}
	in, err := readStudioJSON(c)
	return f, in, err
}

// apiStudioPreview renders a text as a file of the course: {path, text}.
func (h *studioHandlers) apiStudioPreview(c *fiber.Ctx) error {
	in, err := readStudioJSON(c)
	if err != nil {
		return err
	}
	if !studio.EditablePath(in.Path) {
		return fiber.NewError(fiber.StatusNotFound, "no such content file")
	}
	if _, ok := h.published().Course.Files[in.Path]; !ok {
		return fiber.NewError(fiber.StatusNotFound, "no such content file")
	}
	out, err := h.preview(c, in.Path, in.Text)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// apiStudioFile is a file's published text and revision, and its draft.
func (h *studioHandlers) apiStudioFile(c *fiber.Ctx) error {
	f, err := h.openStudioFile(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"path": f.path, "text": string(f.data), "rev": f.rev, "draft": f.draft})
}

// apiStudioDraft saves a draft (the editor's autosave).
func (h *studioHandlers) apiStudioDraft(c *fiber.Ctx) error {
	f, in, err := h.studioFileAndText(c)
	if err != nil {
		return err
	}
	p, store := f.path, f.store
	d := studio.Draft{Path: p, Data: in.Text, BaseRev: in.BaseRev, By: h.viewerOf(c).User.Email}
	if err := store.SaveDraft(c.UserContext(), d); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"saved": true, "path": p})
}

// apiStudioPublish publishes a text: 200, 409 with both texts, or 422
// with the problems.
func (h *studioHandlers) apiStudioPublish(c *fiber.Ctx) error {
	f, in, err := h.studioFileAndText(c)
	if err != nil {
		return err
	}
	p, store := f.path, f.store
	problems, err := store.Publish(c.UserContext(), p, []byte(in.Text), in.BaseRev, h.viewerOf(c).User.Email)
	var conflict *studio.ConflictError
	switch {
	case errors.As(err, &conflict):
		_ = store.SaveDraft(c.UserContext(), studio.Draft{Path: p, Data: in.Text, BaseRev: in.BaseRev, By: h.viewerOf(c).User.Email})
		return h.writeProblem(c, problem{Type: "about:blank", Title: http.StatusText(fiber.StatusConflict), Status: fiber.StatusConflict, Detail: conflict.Error(), Ext: map[string]any{"current": conflict.Current, "rev": conflict.Rev, "by": conflict.By, "yours": in.Text}})
	case errors.Is(err, studio.ErrNoFile):
		return fiber.ErrNotFound
	case err != nil:
		return err
	case len(problems) > 0:
		return h.writeProblem(c, problem{Type: "about:blank", Title: http.StatusText(fiber.StatusUnprocessableEntity), Status: fiber.StatusUnprocessableEntity,
			Detail: "the course has problems with this text", Ext: map[string]any{"problems": studioProblems(problems)}})
	}
	if err := h.contentChanged(c, "content.publish", p, ""); err != nil {
		return err
	}
	_, rev, err := store.File(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"published": true, "path": p, "rev": rev})
}

// studioLearnerView shows a section's draft (or its published text) as a
// learner will get the page: the learners' page builder on the course
// with the draft in place.
func (h *studioHandlers) studioLearnerView(c *fiber.Ctx) error {
	f, err := h.openStudioFile(c)
	if err != nil {
		return err
	}
	p := f.path
	text, _ := f.text()
	crs, _ := course.Load(course.WithFile(h.published().Course.Tree(), p, []byte(text)))
	crs.Reveal() // a hidden module's page as learners will get it once shown
	for _, m := range crs.Modules {
		for _, sec := range m.Sections {
			if sec.File != p || sec.Body == nil {
				continue
			}
			pub := &course.Published{Version: h.published().Version, Course: crs}
			body, err := h.pages.buildSection(pub, &req{core: h.core, ctx: c.UserContext(), Lang: h.lang(c)}, m.Slug, sec.Slug)
			if err != nil {
				return err
			}
			c.Set("X-Robots-Tag", "noindex")
			return sendPrivate(c, body)
		}
	}
	return fiber.NewError(fiber.StatusNotFound, "the learner's view is for section pages; the editor previews the other files")
}
