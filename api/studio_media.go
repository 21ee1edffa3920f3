package api

import (
	"io"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/web"
)

// The media library of the authoring area: the items with where the
// course uses them, an upload form, captions per item and deletion. The
// forms post to this server's pages, so every refusal comes back as the
// page with its reason.

type studioMediaRow struct {
	*media.Item
	UsedIn []apiLink
	Size   string
	Length string
}

type studioMediaData struct {
	Items   []studioMediaRow
	MaxSize string
	Notice  string
	Error   string
	Title   string
	ID      string
}

func (h *studioHandlers) studioMediaData(c *fiber.Ctx) (*studioMediaData, error) {
	items, err := h.media.catalog.List(c.UserContext())
	if err != nil {
		return nil, err
	}
	d := &studioMediaData{MaxSize: media.FormatSize(h.media.catalog.MaxSize())}
	pub := h.published()
	for _, it := range items {
		row := studioMediaRow{Item: it, Size: media.FormatSize(it.Size)}
		if it.Duration > 0 {
			row.Length = clock(it.Duration)
		}
		if pub != nil {
			for _, sec := range pub.Course.MediaUses(it.ID) {
				row.UsedIn = append(row.UsedIn, apiLink{sec.URL(), sec.Title})
			}
		}
		d.Items = append(d.Items, row)
	}
	return d, nil
}

func (h *studioHandlers) studioMediaPage(c *fiber.Ctx) error {
	d, err := h.studioMediaData(c)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	switch {
	case c.Query("lisatty") != "":
		d.Notice = web.T(lang, "studio.media.added") + " " + c.Query("lisatty")
	case c.Query("tekstitys") != "":
		d.Notice = web.T(lang, "studio.media.captioned") + " " + c.Query("tekstitys")
	case c.Query("poistettu") != "":
		d.Notice = web.T(lang, "studio.media.deleted") + " " + c.Query("poistettu")
	}
	return h.renderForm(c, fiber.StatusOK, "studio_media", "studio.media.title", d)
}

// studioMediaRefused shows the page again with the reason for a refusal.
func (h *studioHandlers) studioMediaRefused(c *fiber.Ctx, err error, title, id string) error {
	status, msg, ok := h.refused(c, err)
	if !ok {
		return err
	}
	d, derr := h.studioMediaData(c)
	if derr != nil {
		return derr
	}
	d.Error, d.Title, d.ID = msg, title, id
	return h.renderForm(c, status, "studio_media", "studio.media.title", d)
}

func (h *studioHandlers) studioMediaUpload(c *fiber.Ctx) error {
	up, err := h.media.readUpload(c)
	if err != nil {
		return h.studioMediaRefused(c, err, up.Title, up.ID)
	}
	it, err := h.media.catalog.Put(c.UserContext(), up)
	if err != nil {
		// The unread rest of a refused file is drained up to a bound,
		// then the connection closes after the answer (see limitBodies).
		return h.studioMediaRefused(c, err, up.Title, up.ID)
	}
	h.audit(c, "media.upload", it.ID, it.Title)
	return c.Redirect("/studio/media?lisatty="+it.ID, fiber.StatusSeeOther)
}

func (h *studioHandlers) studioMediaCaptions(c *fiber.Ctx) error {
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype != "multipart/form-data" {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "send the captions as a form with a file")
	}
	fields, file, err := h.media.uploadForm(c, params["boundary"]) // checks the token first
	if err != nil {
		return h.studioMediaRefused(c, err, "", "")
	}
	it, err := h.media.item(c)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(file, media.MaxCaptionBytes+1))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "reading the file failed")
	}
	lang := strings.TrimSpace(fields["lang"])
	if _, err := h.media.catalog.SetCaptions(c.UserContext(), it.ID, lang, data); err != nil {
		return h.studioMediaRefused(c, err, "", "")
	}
	h.audit(c, "media.captions", it.ID, lang)
	return c.Redirect("/studio/media?tekstitys="+it.ID, fiber.StatusSeeOther)
}

func (h *studioHandlers) studioMediaDelete(c *fiber.Ctx) error {
	it, err := h.media.item(c)
	if err != nil {
		return err
	}
	if err := h.media.catalog.Delete(c.UserContext(), it.ID, h.media.places(it.ID)); err != nil {
		return h.studioMediaRefused(c, err, "", "")
	}
	h.audit(c, "media.delete", it.ID, it.Title)
	return c.Redirect("/studio/media?poistettu="+it.ID, fiber.StatusSeeOther)
}
