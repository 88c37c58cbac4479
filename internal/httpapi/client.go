package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedForHeader is the header in which reverse proxies name the
// clients they forward for, each appending the address it received the
// request from.
const ForwardedForHeader = "X-Forwarded-For"

// ClientAddr returns the address of the client that sent r: the one part
// of the server that knows who a request comes from, for the rate limit,
// the request log and whatever else tells clients apart.
//
// It is r.RemoteAddr's IP, unless that is one of trusted (the reverse
// proxies in front of the server, Options.TrustedProxies): then
// X-Forwarded-For is read from its right end, where the proxies append,
// skipping the addresses of trusted proxies, and the first other address
// is the client. What lies to the left of it was sent by the client and is
// never believed. A trusted proxy that sends no address, or one that does
// not parse, is taken as the client itself. The answer has no port and
// no zone, IPv4-mapped IPv6 addresses are IPv4; if RemoteAddr is not an
// IP address (a test's, or a Lambda event's), it is returned as it is.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if peer.Is4() && !isTrusted(peer, trusted) {
		return host // as String would write it: ParseAddr reads dotted-decimal IPv4 in that form only
	}
	peer = peer.Unmap().WithZone("")
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client := peer
	values := r.Header.Values(ForwardedForHeader)
	for i := len(values) - 1; i >= 0; i-- {
		hops := values[i]
		for hops != "" {
			var hop string
			if j := strings.LastIndexByte(hops, ','); j >= 0 {
				hops, hop = hops[:j], hops[j+1:]
			} else {
				hops, hop = "", hops
			}
			a, ok := parseHop(hop)
			if !ok {
				return client.String()
			}
			client = a
			if !isTrusted(a, trusted) {
				return a.String()
			}
		}
	}
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, IPv6 possibly in
// brackets, possibly with a port (some proxies add it).
func parseHop(hop string) (netip.Addr, bool) {
	hop = strings.TrimSpace(hop)
	if a, err := netip.ParseAddr(hop); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(hop, "[") && strings.HasSuffix(hop, "]") {
		if a, err := netip.ParseAddr(hop[1 : len(hop)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
