package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/web"
)

// Static information pages: the accessibility statement and the privacy
// notice.
func (h *pageHandlers) infoPage(name, titleKey, path string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return h.cache.htmlPage(c, func(pub *course.Published, r *req) ([]byte, error) {
			return r.render(name, path, page{Title: web.T(r.Lang, titleKey)})
		})
	}
}
