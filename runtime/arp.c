/* arp.c: gratuitous ARP and neighbour advertisements for the addresses we take over (libnet); ARP probes. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libnet.h>

#include "luaha.h"

#define GARP_COUNT	5	/* packets per burst, as keepalived's garp_master_repeat */
#define GARP_INTERVAL	0.2	/* seconds between them */
#define PROBE_TIMEOUT	1.0	/* seconds */
#define PROBE_RESEND	1.0	/* a lost request or reply must not read as "nobody" */
#define PROBE_BATCH	32	/* ARP packets read per wakeup */
#define NA_OVERRIDE	0x20000000	/* host order: libnet applies htonl */

/*
 * An interface's packet sockets, kept in the registry table "luaha.arp.links"
 * because closing a packet socket, or hooking one again, waits for an RCU
 * grace period: 8-16 ms measured, with the whole loop stalled.
 */
struct arp_link {
	libnet_t	*l;		/* sends our frames; NULL once closed */
	int		 rfd;		/* ETH_P_ARP socket for one probe at a time, or -1 */
	int		 rfd_ifindex;	/* the interface rfd is bound to */
	int		 rfd_busy;	/* a probe reads rfd */
};

/* A burst or a probe in progress: internal, anchored while its task waits. */
struct arp {
	struct arp_link	*k;		/* the interface's; lives as long as the Lua state */
	libnet_t	*l;		/* k->l */
	int		 fd;		/* probe: ETH_P_ARP packet socket, -1 if none */
	int		 fd_kept;	/* fd is k->rfd: it goes back to k, not closed */
	struct waiter	 w;
	int		 family;	/* of ip; AF_INET6 sends neighbour advertisements */
	uint8_t		 ip[16];	/* the address announced or asked for */
	uint8_t		 mac[6];	/* the interface's */
	int		 probe;		/* asks who has ip, from 0.0.0.0 */
	int		 left;		/* garp: packets still to send */
	double		 interval;	/* garp: seconds between packets */
	double		 deadline;	/* probe: monotonic time to give up */
	double		 resend;	/* probe: monotonic time to ask again */
	char		 what[IF_NAMESIZE + 8];	/* "garp eth0", prefixes errors */
};

static const char *const garp_options[] = { "count", "interval", NULL };
static const char *const probe_options[] = { "timeout", NULL };

/* Socket filters: a kept ARP socket takes nothing between probes. */
static struct sock_filter	arp_drop_insn[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
static struct sock_filter	arp_pass_insn[] = { BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
static struct sock_fprog	arp_drop = { 1, arp_drop_insn };
static struct sock_fprog	arp_pass = { 1, arp_pass_insn };

/* The probe is over: its own socket is closed, the kept one goes back to idle and empty. */
static void
arp_shut(struct arp *a)
{
	struct arp_link	*k = a->k;
	uint8_t		 buf[64];

	if (a->fd == -1)
		return;
	if (!a->fd_kept) {
		if (close(a->fd) == -1)
			log_warn("%s: close", a->what);
	} else if (k->rfd == a->fd) {	/* else k closed it, as the state closed */
		k->rfd_busy = 0;
		if (setsockopt(k->rfd, SOL_SOCKET, SO_ATTACH_FILTER, &arp_drop,
		    sizeof(arp_drop)) == -1) {
			log_warn("%s: setsockopt SO_ATTACH_FILTER", a->what);
			close(k->rfd);
			k->rfd = -1;
		} else
			while (recv(k->rfd, buf, sizeof(buf), 0) >= 0)
				continue;
	}
	a->fd = -1;
	a->fd_kept = 0;
}

/* The task was cancelled while it waited: the socket goes now, the memory with the userdata. */
static void
arp_cancel(struct waiter *w)
{
	arp_shut(w->arg);
}

static int
arp_gc(lua_State *L)
{
	struct arp	*a = luaL_checkudata(L, 1, "luaha.arp");

	waiter_close(&a->w);
	arp_shut(a);
	return (0);
}

static void
arp_link_close(struct arp_link *k)
{
	if (k->l != NULL)
		libnet_destroy(k->l);
	k->l = NULL;
	if (k->rfd != -1 && close(k->rfd) == -1)
		log_warn("arp socket close");
	k->rfd = -1;
}

static int
arp_link_gc(lua_State *L)
{
	arp_link_close(luaL_checkudata(L, 1, "luaha.arp.link"));
	return (0);
}

/* Pushes nil and "garp eth0: <msg>", trimming the newline libnet may end with. */
static int
arp_fail(lua_State *L, struct arp *a, const char *msg)
{
	size_t	 len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	lua_pushnil(L);
	lua_pushfstring(L, "%s: ", a->what);
	lua_pushlstring(L, msg, len);
	lua_concat(L, 2);
	arp_shut(a);
	return (2);
}

static int
arp_fail_errno(lua_State *L, struct arp *a, const char *what)
{
	char	 msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	return (arp_fail(L, a, msg));
}

/*
 * Finds or makes ifname's arp_link. libnet's socket is bound to ETH_P_ALL on
 * every interface, a tap through which the kernel would clone each frame
 * sent: binding it to protocol 0 unhooks it (that costs no grace period).
 * Returns 0, or pushes nil and the error and returns -1.
 */
static int
arp_link_open(lua_State *L, struct arp *a, const char *ifname)
{
	struct arp_link		*k;
	struct sockaddr_ll	 sll;
	char			 errbuf[LIBNET_ERRBUF_SIZE];

	luaL_getsubtable(L, LUA_REGISTRYINDEX, "luaha.arp.links");
	if (lua_getfield(L, -1, ifname) != LUA_TNIL) {
		k = luaL_checkudata(L, -1, "luaha.arp.link");
		a->k = k;
		a->l = k->l;
		lua_pop(L, 2);
		return (0);
	}
	lua_pop(L, 1);
	/* libnet would pick an interface itself for a name that is none. */
	if (if_nametoindex(ifname) == 0) {
		lua_pop(L, 1);
		arp_fail(L, a, strerror(errno));
		return (-1);
	}
	k = lua_newuserdatauv(L, sizeof(*k), 0);
	k->l = NULL;
	k->rfd = -1;
	k->rfd_busy = 0;
	luaL_setmetatable(L, "luaha.arp.link");
	if ((k->l = libnet_init(LIBNET_LINK, ifname, errbuf)) == NULL) {
		lua_pop(L, 2);
		arp_fail(L, a, errbuf);
		return (-1);
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	if (k->l->link_type != DLT_EN10MB) {
		arp_link_close(k);
		lua_pop(L, 2);
		arp_fail(L, a, "not an Ethernet interface");
		return (-1);
	}
	if (bind(libnet_getfd(k->l), (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		arp_link_close(k);
		lua_pop(L, 2);
		arp_fail_errno(L, a, "bind");
		return (-1);
	}
	a->k = k;
	a->l = k->l;
	lua_setfield(L, -2, ifname);
	lua_pop(L, 1);
	return (0);
}

/*
 * Pushes a struct arp for op on ifname with the interface's libnet handle
 * and MAC; or pushes nil and the error and returns NULL. ifname must name an
 * interface now: libnet would pick one itself for "" or an address.
 */
static struct arp *
arp_push(lua_State *L, const char *op, const char *ifname)
{
	struct arp	*a;
	struct ifreq	 ifr;

	if (*ifname == '\0' || strlen(ifname) >= IF_NAMESIZE)
		luaL_argerror(L, 1, "not an interface name");
	a = lua_newuserdatauv(L, sizeof(*a), 0);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->w.cancel = arp_cancel;
	luaL_setmetatable(L, "luaha.arp");
	snprintf(a->what, sizeof(a->what), "%s %s", op, ifname);
	if (arp_link_open(L, a, ifname) == -1)
		return (NULL);
	/*
	 * Asked each time, by name: the interface may have been made anew, or
	 * given another address, since. One ioctl on the handle's own socket:
	 * libnet_get_hwaddr and if_nametoindex open and close a socket each,
	 * six system calls that delayed a takeover's first packet by about 1 ms
	 * in UML. ENODEV says the interface is gone.
	 */
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(libnet_getfd(a->l), SIOCGIFHWADDR, &ifr) == -1) {
		arp_fail(L, a, strerror(errno));
		return (NULL);
	}
	memcpy(a->mac, ifr.ifr_hwaddr.sa_data, sizeof(a->mac));
	return (a);
}

/* An ARP request from our MAC for tpa, sender spa, to the Ethernet broadcast. */
static int
arp_build_request(struct arp *a, const uint8_t *spa, uint8_t *tpa)
{
	static const uint8_t	 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t	 zero[6];

	if (libnet_autobuild_arp(ARPOP_REQUEST, a->mac, spa, zero, tpa,
	    a->l) == -1)
		return (-1);
	return (libnet_build_ethernet(bcast, a->mac, ETHERTYPE_ARP, NULL, 0,
	    a->l, 0) == -1 ? -1 : 0);
}

/*
 * The IPv6 counterpart of a gratuitous ARP (RFC 4861 7.2.6): an unsolicited
 * neighbour advertisement of ip with our MAC and the override flag, from ip
 * to all nodes. Receivers drop it unless the hop limit is 255. Linux updates
 * an existing neighbour entry with it; it creates one only on a router
 * (forwarding) whose accept_untracked_na allows it (Linux 5.18).
 */
static int
arp_build_na(struct arp *a)
{
	static const uint8_t	 allnodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct libnet_in6_addr	 target, allnodes;

	memcpy(&target, a->ip, sizeof(target));
	memset(&allnodes, 0, sizeof(allnodes));
	allnodes.__u6_addr.__u6_addr8[0] = 0xff;
	allnodes.__u6_addr.__u6_addr8[1] = 0x02;
	allnodes.__u6_addr.__u6_addr8[15] = 0x01;
	if (libnet_build_icmpv6_ndp_opt(ND_OPT_TARGET_LINKADDR, a->mac,
	    sizeof(a->mac), a->l, 0) == -1)
		return (-1);
	if (libnet_build_icmpv6_ndp_nadv(ND_NEIGHBOR_ADVERT, 0, 0, NA_OVERRIDE,
	    target, NULL, 0, a->l, 0) == -1)
		return (-1);
	if (libnet_build_ipv6(0, 0, LIBNET_ICMPV6_NDP_NADV_H + 8, IPPROTO_ICMPV6,
	    255, target, allnodes, NULL, 0, a->l, 0) == -1)
		return (-1);
	return (libnet_build_ethernet(allnodes_mac, a->mac, ETHERTYPE_IPV6, NULL,
	    0, a->l, 0) == -1 ? -1 : 0);
}

/*
 * Builds and writes our packet. Tasks share the interface's handle, so the
 * packet is built anew each time, with no yield between building and writing.
 */
static int
arp_send(struct arp *a)
{
	static const uint8_t	 any[4];
	int			 r;

	libnet_clear_packet(a->l);
	if (a->family == AF_INET6)
		r = arp_build_na(a);
	else
		r = arp_build_request(a, a->probe ? any : a->ip, a->ip);
	if (r == -1 || libnet_write(a->l) == -1)
		return (-1);
	return (0);
}

/* The interval is over: send the next packet of the burst. */
static int
arp_garp_done(lua_State *co, struct waiter *w, short what)
{
	struct arp	*a = w->arg;

	(void)what;
	if (arp_send(a) == -1)
		return (arp_fail(co, a, libnet_geterror(a->l)));
	if (--a->left > 0) {
		/* The waiter re-arms for what is left until its deadline. */
		w->deadline = loop_now() + a->interval;
		return (-1);
	}
	lua_pushboolean(co, 1);
	return (1);
}

/*
 * garp(ifname, ip [, {count=, interval=}]): announces that ip is now at
 * ifname's MAC; true, or nil and "garp <ifname>: <reason>". A burst of more
 * than one packet yields between them.
 */
static int
arp_garp(lua_State *L)
{
	const char		*ifname = luaL_checkstring(L, 1);
	const char		*ip = luaL_checkstring(L, 2);
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	double			 count, interval;
	struct arp		*a;

	lua_settop(L, 3);
	if (net_addr(ip, 0, &ss, &len) == -1)
		return (luaL_argerror(L, 2, "not an IPv4 or IPv6 address"));
	luaha_check_options(L, 3, garp_options);
	count = luaha_opt_number(L, 3, "count", GARP_COUNT);
	interval = luaha_opt_seconds(L, 3, "interval", GARP_INTERVAL);
	if (!(count >= 1 && count <= 1000) || count != (int)count)
		return (luaL_error(L, "option 'count' must be an integer from 1 to 1000"));
	if (count > 1 && (task_current(L) == NULL || !lua_isyieldable(L)))
		return (luaL_error(L, "attempt to wait outside a task"));

	if ((a = arp_push(L, "garp", ifname)) == NULL)
		return (2);
	a->family = ss.ss_family;
	if (a->family == AF_INET)
		memcpy(a->ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(a->ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	if (arp_send(a) == -1)
		return (arp_fail(L, a, libnet_geterror(a->l)));
	if ((a->left = (int)count - 1) == 0)
		return (luaha_ok(L));
	a->interval = interval;
	return (task_wait(L, &a->w, -1, 0, interval, arp_garp_done, a,
	    lua_gettop(L)));
}

/*
 * Is the ARP packet ea (n bytes) about our address? Any packet whose sender
 * is the address counts (RFC 5227 2.1.1): the reply to our probe, or the
 * owner's own request or announcement. Our own frames are skipped.
 */
static int
arp_probe_match(struct arp *a, const struct ether_arp *ea, size_t n,
    const struct sockaddr_ll *sll)
{
	if (sll->sll_pkttype == PACKET_OUTGOING || n < sizeof(*ea))
		return (0);
	if (ntohs(ea->arp_hrd) != ARPHRD_ETHER || ntohs(ea->arp_pro) != ETHERTYPE_IP ||
	    ea->arp_hln != 6 || ea->arp_pln != 4)
		return (0);
	return (memcmp(ea->arp_spa, a->ip, 4) == 0);
}

/*
 * Gives the probe an ETH_P_ARP socket on the interface: the kept one, which
 * a filter keeps empty while idle, or if another probe has it, a socket of
 * its own. A socket made with protocol 0 and hooked by bind is hooked on
 * that interface only, and its first hook costs no grace period.
 */
static int
arp_probe_socket(struct arp *a, int ifindex)
{
	struct arp_link		*k = a->k;
	struct sockaddr_ll	 sll;
	socklen_t		 len = sizeof(int);
	int			 fd, err;

	if (k->rfd != -1 && !k->rfd_busy && k->rfd_ifindex != ifindex) {
		if (close(k->rfd) == -1)	/* the interface was made anew */
			log_warn("%s: close", a->what);
		k->rfd = -1;
	}
	if (k->rfd != -1 && !k->rfd_busy) {
		/* Reading SO_ERROR clears the ENETDOWN of a link that went down and up. */
		if (getsockopt(k->rfd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    setsockopt(k->rfd, SOL_SOCKET, SO_ATTACH_FILTER, &arp_pass,
		    sizeof(arp_pass)) == -1)
			return (-1);
		k->rfd_busy = 1;
		a->fd = k->rfd;
		a->fd_kept = 1;
		return (0);
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = ifindex;
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		close(fd);
		return (-1);
	}
	a->fd = fd;
	if (k->rfd == -1) {
		k->rfd = fd;
		k->rfd_ifindex = ifindex;
		k->rfd_busy = 1;
		a->fd_kept = 1;
	}
	return (0);
}

/* Reads the ARP packets waiting, asks again each PROBE_RESEND, gives up at the deadline. */
static int
arp_probe_done(lua_State *co, struct waiter *w, short what)
{
	struct arp		*a = w->arg;
	union {
		struct ether_arp	 ea;
		uint8_t			 b[256];
	}			 buf;
	struct sockaddr_ll	 sll;
	socklen_t		 sllen;
	char			 mac[18];
	ssize_t			 n;
	double			 now;
	int			 i;

	for (i = 0; (what & EV_READ) && i < PROBE_BATCH; i++) {
		sllen = sizeof(sll);
		n = recvfrom(a->fd, &buf, sizeof(buf), 0, (struct sockaddr *)&sll,
		    &sllen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n == -1)
			return (arp_fail_errno(co, a, "recvfrom"));
		if (arp_probe_match(a, &buf.ea, n, &sll)) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			    buf.ea.arp_sha[0], buf.ea.arp_sha[1], buf.ea.arp_sha[2],
			    buf.ea.arp_sha[3], buf.ea.arp_sha[4], buf.ea.arp_sha[5]);
			arp_shut(a);
			lua_pushstring(co, mac);
			return (1);
		}
	}
	/* libevent may fire a hair before a deadline: a millisecond is close enough. */
	now = loop_now() + 0.001;
	if (now >= a->deadline) {
		arp_shut(a);
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	if (now >= a->resend) {
		if (arp_send(a) == -1)
			return (arp_fail(co, a, libnet_geterror(a->l)));
		a->resend = loop_now() + PROBE_RESEND;
	}
	w->deadline = a->resend < a->deadline ? a->resend : a->deadline;
	return (-1);
}

/*
 * probe(ifname, ip [, {timeout=}]): asks who has ip, from 0.0.0.0 as an
 * RFC 5227 probe does (Linux answers those too); the MAC of the host that
 * answers as "aa:bb:cc:dd:ee:ff", or nil and "timeout" or
 * "probe <ifname>: <reason>". Yields.
 */
static int
arp_probe(lua_State *L)
{
	const char		*ifname = luaL_checkstring(L, 1);
	const char		*ip = luaL_checkstring(L, 2);
	struct in_addr		 in;
	unsigned int		 ifindex;
	double			 timeout, now;
	struct arp		*a;

	lua_settop(L, 3);
	if (inet_pton(AF_INET, ip, &in) != 1)
		return (luaL_argerror(L, 2, "not an IPv4 address"));
	luaha_check_options(L, 3, probe_options);
	timeout = luaha_opt_seconds(L, 3, "timeout", PROBE_TIMEOUT);
	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));

	if ((a = arp_push(L, "probe", ifname)) == NULL)
		return (2);
	a->family = AF_INET;
	a->probe = 1;
	memcpy(a->ip, &in, 4);

	/* Listen before asking, or a quick answer could come first. */
	if ((ifindex = if_nametoindex(ifname)) == 0)
		return (arp_fail(L, a, strerror(errno)));
	if (arp_probe_socket(a, (int)ifindex) == -1)
		return (arp_fail_errno(L, a, "arp socket"));
	if (arp_send(a) == -1)
		return (arp_fail(L, a, libnet_geterror(a->l)));
	now = loop_now();
	a->deadline = now + timeout;
	a->resend = now + PROBE_RESEND;
	return (task_wait(L, &a->w, a->fd, EV_READ,
	    timeout < PROBE_RESEND ? timeout : PROBE_RESEND, arp_probe_done, a,
	    lua_gettop(L)));
}

/*
 * open(ifname): opens the interface's packet socket now, as its first garp
 * or probe would: true, or nil and "arp <ifname>: <reason>". Binding the new
 * socket waits for an RCU grace period (5-15 ms measured in UML, a third of a
 * 0.03 s deadtime): a router opens its VIPs' interfaces ahead of a takeover,
 * so that its first gratuitous ARP goes out without that wait.
 */
static int
arp_open(lua_State *L)
{
	const char	*ifname = luaL_checkstring(L, 1);

	if (arp_push(L, "arp", ifname) == NULL)
		return (2);
	return (luaha_ok(L));
}

static const luaL_Reg arp_funcs[] = {
	{ "open", arp_open },
	{ "garp", arp_garp },
	{ "probe", arp_probe },
	{ NULL, NULL }
};

static const luaL_Reg arp_meta[] = {
	{ "__gc", arp_gc },
	{ NULL, NULL }
};

static const luaL_Reg arp_link_meta[] = {
	{ "__gc", arp_link_gc },
	{ NULL, NULL }
};

int
luaopen_luaha_core_arp(lua_State *L)
{
	luaL_newmetatable(L, "luaha.arp");
	luaL_setfuncs(L, arp_meta, 0);
	luaL_newmetatable(L, "luaha.arp.link");
	luaL_setfuncs(L, arp_link_meta, 0);
	lua_pop(L, 2);
	luaL_newlib(L, arp_funcs);
	return (1);
}
