package zone

import (
	"github.com/dnsbound/dance/zone/internal/image"
	"github.com/dnsbound/dance/zone/internal/zoneaccess"
)

// The server's way to the zone's packed forms (zone/internal/zoneaccess).
func init() {
	zoneaccess.AppendAnswer = func(z any, dst, qname []byte, qtype uint16, dnssec bool) ([]byte, int, bool) {
		return z.(*Zone).appendAnswer(dst, qname, qtype, dnssec)
	}
	zoneaccess.TransferZone = func(z any) (image.Source, error) {
		return z.(*Zone).transferZone()
	}
	zoneaccess.ImageFresh = func(z any, im image.Source) (bool, error) {
		return z.(*Zone).imageFresh(im)
	}
	zoneaccess.Generation = func(z any) ([]byte, error) {
		return z.(*Zone).st.Generation()
	}
}
