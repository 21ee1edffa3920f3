package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/org"
)

// orgHandlers serve the organisation directory: the list for the
// registration form (the API) and the administrators' pages.
type orgHandlers struct {
	*core
	dir *org.Directory
}

// apiOrganisation is an active organisation as the registration form
// needs it: no domains, no history.
type apiOrganisation struct {
	Code   string      `json:"code"`
	Name   string      `json:"name"` // in the request's language
	NameFI string      `json:"name_fi"`
	NameSV string      `json:"name_sv,omitempty"`
	Units  []org.Entry `json:"units"`
}

// apiList is GET /api/v1/organisations: the active organisations with
// their units, depth first, for the registration form; "other" is the
// choice that takes free text.
func (h *orgHandlers) apiList(c *fiber.Ctx) error {
	ctx := c.UserContext()
	list, err := h.dir.List(ctx)
	if err != nil {
		return err
	}
	lang := h.lang(c)
	out := []apiOrganisation{}
	for _, o := range list {
		if !o.Active {
			continue
		}
		t, err := h.dir.Units(ctx, o.ID)
		if err != nil {
			return err
		}
		units := t.Flat()
		if units == nil {
			units = []org.Entry{}
		}
		out = append(out, apiOrganisation{Code: o.ID, Name: o.Name(lang), NameFI: o.NameFI, NameSV: o.NameSV, Units: units})
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	return c.JSON(fiber.Map{"organisations": out, "other": account.OtherOrganisation})
}
