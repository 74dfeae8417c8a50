/* prober.c: the raw sockets of luaha.net.tcp_halfopen: opened with their filter, SYNs sent, answers read and SYN-ACKs reset in batches. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/random.h>
#include <sys/socket.h>

#include <linux/filter.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"
#include "halfopen.h"

/* RFC 1071 over the IPv4 pseudo-header and the segment. */
static uint16_t
tcp4_cksum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
	uint8_t		 pseudo[12];

	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = len >> 8;
	pseudo[11] = len & 0xff;
	return (net_cksum(seg, len, net_cksum_add(pseudo, sizeof(pseudo), 0)));
}

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
union pktinfo_buf {
	struct cmsghdr	 align;
	char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/*
 * Sets msg to send from the address at src (4 or 16 bytes by family), with an
 * IP_PKTINFO or IPV6_PKTINFO control message in buf: a raw socket's packets
 * otherwise leave from the address routing picks.
 */
static void
pktinfo_source(struct msghdr *msg, int family, const void *src, union pktinfo_buf *buf)
{
	struct cmsghdr		*c;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;

	memset(buf, 0, sizeof(*buf));
	msg->msg_control = buf->buf;
	c = (struct cmsghdr *)buf->buf;
	if (family == AF_INET) {
		memset(&pi, 0, sizeof(pi));
		memcpy(&pi.ipi_spec_dst, src, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		msg->msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		memset(&pi6, 0, sizeof(pi6));
		memcpy(&pi6.ipi6_addr, src, 16);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
		msg->msg_controllen = CMSG_SPACE(sizeof(pi6));
	}
}

/* The IPv6 address a datagram was sent to, from its IPV6_PKTINFO; NULL if it has none. */
static const void *
pktinfo_destination(struct msghdr *msg)
{
	struct cmsghdr	*c;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			return (&((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr);
	}
	return (NULL);
}

/*
 * Fills rst (20 bytes) with the reset that ends the half-open connection a
 * SYN-ACK (th) offers: from our port, its sequence number the SYN-ACK's ack.
 * The kernel sends one too, but from a small shared buffer that a burst of
 * thousands overflows; a server that keeps the connection half open would
 * answer the next check's SYN, from the same port, with a bare ACK.
 */
static void
prober_reset(struct prober *pr, const uint8_t *th, uint32_t src, uint32_t dst, uint8_t *rst)
{
	uint16_t	 sum;

	memset(rst, 0, 20);
	rst[0] = pr->port >> 8;
	rst[1] = pr->port & 0xff;
	memcpy(rst + 2, th, 2);			/* the server's port */
	memcpy(rst + 4, th + 8, 4);		/* seq = the SYN-ACK's ack */
	rst[12] = 5 << 4;
	rst[13] = TH_RST;
	if (pr->family == AF_INET) {
		sum = tcp4_cksum(src, dst, rst, 20);
		memcpy(rst + 16, &sum, sizeof(sum));
	}
}

/*
 * The raw socket is readable: hands every segment to the probe it answers, and
 * resets the SYN-ACKs, from the address each was sent to.
 */
static void
prober_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prober		*pr = arg;
	struct mmsghdr		 msgs[HALFOPEN_BATCH], rsts[HALFOPEN_BATCH];
	struct iovec		 iov[HALFOPEN_BATCH], rstiov[HALFOPEN_BATCH];
	struct sockaddr_storage	 from[HALFOPEN_BATCH];
	union pktinfo_buf	 cmsgs[HALFOPEN_BATCH], rstcmsgs[HALFOPEN_BATCH];
	uint8_t			 buf[HALFOPEN_BATCH][HALFOPEN_SNAP], rst[HALFOPEN_BATCH][20];
	const uint8_t		*th;
	const void		*ours;
	uint32_t		 src = 0, dst = 0;
	double			 now;
	size_t			 len, hl;
	int			 i, n, nrst, reads;

	(void)what;
	for (reads = 0; reads < HALFOPEN_READS; reads++) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < HALFOPEN_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			if (pr->family == AF_INET6) {
				msgs[i].msg_hdr.msg_control = cmsgs[i].buf;
				msgs[i].msg_hdr.msg_controllen = sizeof(cmsgs[i].buf);
			}
		}
		if ((n = recvmmsg(fd, msgs, HALFOPEN_BATCH, MSG_DONTWAIT, NULL)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("tcp_halfopen: recvmmsg");
			return;
		}
		nrst = 0;
		now = loop_now();	/* once a batch: the round trips are as exact as the loop */
		for (i = 0; i < n; i++) {
			th = buf[i];
			len = msgs[i].msg_len < HALFOPEN_SNAP ? msgs[i].msg_len : HALFOPEN_SNAP;
			if (pr->family == AF_INET) {	/* raw IPv4 sockets deliver the IP header too */
				if (len < 20)
					continue;
				hl = (size_t)(th[0] & 0x0f) * 4;
				if (hl < 20 || len < hl)
					continue;
				memcpy(&src, th + 16, 4);	/* our address: the reset's source */
				memcpy(&dst, th + 12, 4);
				ours = &src;
				th += hl;
				len -= hl;
			} else
				ours = pktinfo_destination(&msgs[i].msg_hdr);
			if (!halfopen_answer(pr, th, len, &from[i], now) || ours == NULL)
				continue;
			prober_reset(pr, th, src, dst, rst[nrst]);
			memset(&rsts[nrst], 0, sizeof(rsts[nrst]));
			rstiov[nrst].iov_base = rst[nrst];
			rstiov[nrst].iov_len = sizeof(rst[nrst]);
			rsts[nrst].msg_hdr.msg_iov = &rstiov[nrst];
			rsts[nrst].msg_hdr.msg_iovlen = 1;
			rsts[nrst].msg_hdr.msg_name = &from[i];
			rsts[nrst].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
			pktinfo_source(&rsts[nrst].msg_hdr, pr->family, ours, &rstcmsgs[nrst]);
			if (pr->family == AF_INET)
				((struct sockaddr_in *)&from[i])->sin_port = 0;
			else
				((struct sockaddr_in6 *)&from[i])->sin6_port = 0;
			nrst++;
		}
		if (nrst > 0 && sendmmsg(fd, rsts, nrst, MSG_DONTWAIT) == -1)
			log_warn("tcp_halfopen: sendmmsg");
		if (n < HALFOPEN_BATCH)
			return;
	}
}

/* Lets through only TCP segments to port; the raw IPv4 socket's data begins with the IP header. */
static int
prober_filter(struct prober *pr)
{
	struct sock_filter	 v4[] = {
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),		/* X = IP header length */
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),		/* destination port */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pr->port, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, HALFOPEN_SNAP),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter	 v6[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pr->port, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, HALFOPEN_SNAP),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog	 prog;

	if (pr->family == AF_INET) {
		prog.len = sizeof(v4) / sizeof(v4[0]);
		prog.filter = v4;
	} else {
		prog.len = sizeof(v6) / sizeof(v6[0]);
		prog.filter = v6;
	}
	return (setsockopt(pr->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
}

/* Sets a socket buffer to HALFOPEN_BUFFER, above the system's limit where allowed (CAP_NET_ADMIN). */
static int
socket_buffer(int fd, int force, int option)
{
	int	 size = HALFOPEN_BUFFER;

	if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) == 0)
		return (0);
	return (setsockopt(fd, SOL_SOCKET, option, &size, sizeof(size)));
}

void
prober_close(struct prober *pr)
{
	if (pr->ev != NULL)
		event_free(pr->ev);
	pr->ev = NULL;
	if (pr->fd != -1 && close(pr->fd) == -1)
		log_warn("tcp_halfopen: close");
	if (pr->port_fd != -1 && close(pr->port_fd) == -1)
		log_warn("tcp_halfopen: close");
	if (pr->route_fd != -1 && close(pr->route_fd) == -1)
		log_warn("tcp_halfopen: close");
	pr->fd = pr->port_fd = pr->route_fd = -1;
}

/*
 * Opens the sockets: the port first (a TCP socket bound to an ephemeral port
 * and never connected), then the raw socket with its filter, then the event.
 * On failure, closes what it opened and leaves errno and *what set.
 */
int
prober_open(struct prober *pr, const char **what)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 flags = SOCK_NONBLOCK | SOCK_CLOEXEC, on = 1, e;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = pr->family;
	len = pr->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	*what = "socket";
	if ((pr->port_fd = socket(pr->family, SOCK_STREAM | flags, 0)) == -1)
		goto fail;
	*what = "bind";
	if (pr->family == AF_INET6 &&
	    setsockopt(pr->port_fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(pr->port_fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(pr->port_fd, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	pr->port = ntohs(pr->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	*what = "raw socket";
	if ((pr->fd = socket(pr->family, SOCK_RAW | flags, IPPROTO_TCP)) == -1)
		goto fail;
	*what = "setsockopt";
	if (prober_filter(pr) == -1)
		goto fail;
	/*
	 * Every check's SYN may leave, and its answer come, in the same
	 * millisecond: room for thousands of them each way.
	 */
	if (socket_buffer(pr->fd, SO_RCVBUFFORCE, SO_RCVBUF) == -1 ||
	    socket_buffer(pr->fd, SO_SNDBUFFORCE, SO_SNDBUF) == -1)
		goto fail;
	if (pr->family == AF_INET6) {
		int	offset = 16;	/* the TCP checksum: the kernel knows the source */

		if (setsockopt(pr->fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof(offset)) == -1 ||
		    setsockopt(pr->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)) == -1)
			goto fail;
	} else if ((pr->route_fd = socket(AF_INET, SOCK_DGRAM | flags, 0)) == -1) {
		*what = "socket";
		goto fail;
	}
	*what = "event";
	if ((pr->ev = event_new(loop_base(), pr->fd, EV_READ | EV_PERSIST, prober_read_cb, pr)) == NULL ||
	    event_add(pr->ev, NULL) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	if (getrandom(&pr->next_seq, sizeof(pr->next_seq), GRND_NONBLOCK) != sizeof(pr->next_seq))
		pr->next_seq = (uint32_t)getpid() * 2654435761U;
	return (0);
fail:
	e = errno;
	prober_close(pr);
	errno = e;
	return (-1);
}

/* The slot of dst in the route cache (its own or the empty one where it would go). */
static struct route_entry *
route_slot(struct prober *pr, uint32_t dst)
{
	size_t	 i = (dst * 2654435761U) & (pr->route_size - 1);

	while (pr->routes[i].dst != 0 && pr->routes[i].dst != dst)
		i = (i + 1) & (pr->route_size - 1);
	return (&pr->routes[i]);
}

/* Doubles the route cache (it starts at 64 slots), keeping it at most half full. */
static int
route_grow(struct prober *pr)
{
	struct route_entry	*old = pr->routes, *slot;
	size_t			 oldsize = pr->route_size, i;

	pr->route_size = oldsize ? oldsize * 2 : 64;
	if ((pr->routes = calloc(pr->route_size, sizeof(*pr->routes))) == NULL) {
		pr->routes = old;
		pr->route_size = oldsize;
		return (-1);
	}
	for (i = 0; i < oldsize; i++) {
		if (old[i].dst == 0)
			continue;
		slot = route_slot(pr, old[i].dst);
		*slot = old[i];
	}
	free(old);
	return (0);
}

/*
 * The source address the kernel would use towards to (IPv4), from routing,
 * asked by connecting a UDP socket (no packet leaves) and kept ROUTE_TTL
 * seconds, so that thousands of checks a second ask rarely.
 */
static int
route_source(struct prober *pr, const struct sockaddr_in *to, uint32_t *src, double now)
{
	struct route_entry	*r;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	uint32_t		 dst = to->sin_addr.s_addr;

	if (dst == 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((pr->nroutes + 1) * 2 > pr->route_size && route_grow(pr) == -1)
		return (-1);
	r = route_slot(pr, dst);
	if (r->dst == dst && r->expires > now) {
		*src = r->src;
		return (0);
	}
	/* Connected once, the socket keeps its first source: it is disconnected first. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_UNSPEC;
	if (connect(pr->route_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return (-1);
	sin.sin_family = AF_INET;
	sin.sin_addr = to->sin_addr;
	sin.sin_port = htons(9);
	if (connect(pr->route_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(pr->route_fd, (struct sockaddr *)&sin, &len) == -1)
		return (-1);
	if (r->dst == 0)
		pr->nroutes++;
	r->dst = dst;
	r->src = sin.sin_addr.s_addr;
	r->expires = now + ROUTE_TTL;
	*src = r->src;
	return (0);
}

/* Sends the probe's SYN (again, for a retransmission), with an MSS option as any SYN has. */
int
prober_syn(struct probe *p, double now)
{
	struct prober	*pr = p->pr;
	union inet_addr	 dst = p->to;
	union pktinfo_buf cmsg;
	struct msghdr	 msg;
	struct iovec	 iov;
	uint8_t		 seg[24];
	uint16_t	 dport = addr_port(&p->to), sum;
	uint32_t	 src;

	memset(seg, 0, sizeof(seg));
	seg[0] = pr->port >> 8;
	seg[1] = pr->port & 0xff;
	seg[2] = dport >> 8;
	seg[3] = dport & 0xff;
	seg[4] = p->seq >> 24;
	seg[5] = (p->seq >> 16) & 0xff;
	seg[6] = (p->seq >> 8) & 0xff;
	seg[7] = p->seq & 0xff;
	seg[12] = (sizeof(seg) / 4) << 4;	/* data offset */
	seg[13] = TH_SYN;
	seg[14] = 0xff;				/* window 65535 */
	seg[15] = 0xff;
	seg[20] = 2;				/* MSS 1460 */
	seg[21] = 4;
	seg[22] = 1460 >> 8;
	seg[23] = 1460 & 0xff;
	if (pr->family == AF_INET) {
		if (p->src.sa.sa_family == AF_INET)
			src = p->src.sin.sin_addr.s_addr;
		else if (route_source(pr, &p->to.sin, &src, now) == -1)
			return (-1);
		sum = tcp4_cksum(src, p->to.sin.sin_addr.s_addr, seg, sizeof(seg));
		memcpy(seg + 16, &sum, sizeof(sum));
		dst.sin.sin_port = 0;
	} else
		dst.sin6.sin6_port = 0;		/* a raw IPv6 socket takes it for a protocol */
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = seg;
	iov.iov_len = sizeof(seg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_name = &dst.sa;
	msg.msg_namelen = p->tolen;
	if (p->src.sa.sa_family == AF_INET)
		pktinfo_source(&msg, AF_INET, &p->src.sin.sin_addr, &cmsg);
	else if (p->src.sa.sa_family == AF_INET6)
		pktinfo_source(&msg, AF_INET6, &p->src.sin6.sin6_addr, &cmsg);
	return (sendmsg(pr->fd, &msg, 0) == -1 ? -1 : 0);
}
