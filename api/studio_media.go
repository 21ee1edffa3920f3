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

func (s *Server) studioMediaData(c *fiber.Ctx) (*studioMediaData, error) {
	items, err := s.media.List(c.UserContext())
	if err != nil {
		return nil, err
	}
	d := &studioMediaData{MaxSize: media.FormatSize(s.media.MaxSize())}
	pub := s.published()
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

func (s *Server) studioMediaPage(c *fiber.Ctx) error {
	d, err := s.studioMediaData(c)
	if err != nil {
		return err
	}
	lang := s.lang(c)
	switch {
	case c.Query("lisatty") != "":
		d.Notice = web.T(lang, "studio.media.added") + " " + c.Query("lisatty")
	case c.Query("tekstitys") != "":
		d.Notice = web.T(lang, "studio.media.captioned") + " " + c.Query("tekstitys")
	case c.Query("poistettu") != "":
		d.Notice = web.T(lang, "studio.media.deleted") + " " + c.Query("poistettu")
	}
	return s.renderForm(c, fiber.StatusOK, "studio_media", "studio.media.title", d)
}

// studioMediaRefused shows the page again with the reason for a refusal.
func (s *Server) studioMediaRefused(c *fiber.Ctx, err error, title, id string) error {
	status, msg, ok := s.refused(c, err)
	if !ok {
		return err
	}
	d, derr := s.studioMediaData(c)
	if derr != nil {
		return derr
	}
	d.Error, d.Title, d.ID = msg, title, id
	return s.renderForm(c, status, "studio_media", "studio.media.title", d)
}

func (s *Server) studioMediaUpload(c *fiber.Ctx) error {
	up, err := s.readUpload(c)
	if err != nil {
		return s.studioMediaRefused(c, err, up.Title, up.ID)
	}
	it, err := s.media.Put(c.UserContext(), up)
	if err != nil {
		// The unread rest of a refused file is drained up to a bound,
		// then the connection closes after the answer (see limitBodies).
		return s.studioMediaRefused(c, err, up.Title, up.ID)
	}
	s.audit(c, "media.upload", it.ID, it.Title)
	return c.Redirect("/studio/media?lisatty="+it.ID, fiber.StatusSeeOther)
}

func (s *Server) studioMediaCaptions(c *fiber.Ctx) error {
	ctype, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ctype != "multipart/form-data" {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "send the captions as a form with a file")
	}
	fields, file, err := s.uploadForm(c, params["boundary"]) // checks the token first
	if err != nil {
		return s.studioMediaRefused(c, err, "", "")
	}
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(file, media.MaxCaptionBytes+1))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "reading the file failed")
	}
	lang := strings.TrimSpace(fields["lang"])
	if _, err := s.media.SetCaptions(c.UserContext(), it.ID, lang, data); err != nil {
		return s.studioMediaRefused(c, err, "", "")
	}
	s.audit(c, "media.captions", it.ID, lang)
	return c.Redirect("/studio/media?tekstitys="+it.ID, fiber.StatusSeeOther)
}

func (s *Server) studioMediaDelete(c *fiber.Ctx) error {
	it, err := s.mediaItem(c)
	if err != nil {
		return err
	}
	if err := s.media.Delete(c.UserContext(), it.ID, s.mediaPlaces(it.ID)); err != nil {
		return s.studioMediaRefused(c, err, "", "")
	}
	s.audit(c, "media.delete", it.ID, it.Title)
	return c.Redirect("/studio/media?poistettu="+it.ID, fiber.StatusSeeOther)
}
