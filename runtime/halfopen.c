/* halfopen.c: luaha.net.tcp_halfopen, a TCP check that sends a SYN and waits for the SYN-ACK or RST, making no connection. */
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

/*
 * A connect check costs a socket, a connection and its teardown in the
 * checker's own system calls. A half-open check, as load balancers' "TCP
 * half open" monitors do, sends one SYN on a raw socket shared by every check
 * and reads the answers in batches: a SYN-ACK means a listener took it, a RST
 * that nothing listens. Each SYN-ACK is answered with a RST, by luaha (in
 * batches) and by the kernel (no socket of ours is connected), so the server
 * keeps nothing half open. The SYNs leave from one port that a bound TCP
 * socket keeps from anyone else; a filter on the raw socket lets only
 * segments to that port through.
 */

#define HALFOPEN_TIMEOUT	10.0	/* seconds, when the caller gives none */
#define HALFOPEN_BUCKETS	1024	/* probes waiting, by sequence number */
#define HALFOPEN_BATCH		32	/* segments read per system call */
#define HALFOPEN_READS		64	/* system calls per wakeup: no socket hogs the loop */
#define HALFOPEN_SNAP		128	/* bytes of a segment kept: its headers */
#define HALFOPEN_BUFFER		(8 << 20)	/* bytes each way: a segment takes about 1 KiB */
#define HALFOPEN_RTO		1.0	/* the first retransmission, as TCP's initial RTO */
#define ROUTE_TTL		30.0	/* seconds a source address learnt from routing is used */

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_ACK	0x10

struct probe;

/* The source address routing gives a destination (IPv4 needs it for the TCP checksum). */
struct route_entry {
	uint32_t	 dst;		/* network order; 0 for an empty slot */
	uint32_t	 src;
	double		 expires;
};

/* What every check of one address family shares; created on first use. */
struct prober {
	int		 family;
	int		 fd;		/* the raw socket; -1 until opened */
	int		 port_fd;	/* a TCP socket bound to port */
	int		 route_fd;	/* a UDP socket, connected to ask routing for a source */
	uint16_t	 port;		/* host order */
	uint32_t	 next_seq;
	struct event	*ev;		/* persistent read event on fd */
	struct probe	*buckets[HALFOPEN_BUCKETS];
	struct probe	*free;		/* probes done, for the next checks */
	int		 closed;		/* the state is closing: probes are freed, not kept */
	struct route_entry *routes;	/* open addressing, nroutes used of route_size */
	size_t		 nroutes, route_size;
};

/* An IPv4 or IPv6 address with its port: what a probe keeps, smaller than a sockaddr_storage. */
union inet_addr {
	struct sockaddr		 sa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
};

/*
 * One check, from the prober's free list (thousands of checks a second make
 * no garbage): while it waits it is in a bucket, then back on the list.
 */
struct probe {
	struct prober		*pr;
	union inet_addr		 to;	/* the address and port probed */
	union inet_addr		 src;	/* the source option, family 0 if none */
	socklen_t		 tolen;
	uint32_t		 seq;
	double			 sent;	/* monotonic seconds at the first SYN */
	double			 deadline;
	double			 rto;
	int			 answer;	/* 0 waiting, TH_SYN for a SYN-ACK, TH_RST */
	double			 answered;	/* monotonic seconds when the answer was read */
	int			 linked;
	struct probe		*next;	/* in its bucket, or on the free list */
	struct waiter		*w;	/* the waiting task's own (task_self_waiter) */
};

static const char *const halfopen_options[] = { "timeout", "source", NULL };

static struct probe **
probe_bucket(struct prober *pr, uint32_t seq)
{
	return (&pr->buckets[seq % HALFOPEN_BUCKETS]);
}

static void
probe_link(struct probe *p)
{
	struct probe	**b = probe_bucket(p->pr, p->seq);

	p->next = *b;
	*b = p;
	p->linked = 1;
}

static void
probe_unlink(struct probe *p)
{
	struct probe	**pp;

	if (!p->linked)
		return;
	for (pp = probe_bucket(p->pr, p->seq); *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->linked = 0;
}

/* The port of an address, host order. */
static uint16_t
addr_port(const union inet_addr *a)
{
	return (ntohs(a->sa.sa_family == AF_INET ? a->sin.sin_port : a->sin6.sin6_port));
}

/* Are a and the sender of a datagram, from, the same host? */
static int
addr_same_host(const union inet_addr *a, const struct sockaddr_storage *from)
{
	if (a->sa.sa_family != from->ss_family)
		return (0);
	if (a->sa.sa_family == AF_INET)
		return (a->sin.sin_addr.s_addr == ((const struct sockaddr_in *)from)->sin_addr.s_addr);
	return (memcmp(&a->sin6.sin6_addr, &((const struct sockaddr_in6 *)from)->sin6_addr,
	    sizeof(struct in6_addr)) == 0);
}

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
 * A segment came to our port from `from`: the probe whose SYN it acknowledges
 * (ack = seq + 1, from the probed address and port) takes its answer and wakes.
 * Returns 1 for a SYN-ACK, which the caller answers with a RST.
 */
static int
prober_answer(struct prober *pr, const uint8_t *th, size_t n,
    const struct sockaddr_storage *from, double now)
{
	struct probe	*p;
	uint32_t	 ack, seq;
	int		 flags;

	if (n < 20 || (th[2] << 8 | th[3]) != pr->port)
		return (0);
	flags = th[13];
	if (!(flags & TH_ACK) || !(flags & (TH_SYN | TH_RST)))
		return (0);
	ack = (uint32_t)th[8] << 24 | (uint32_t)th[9] << 16 | (uint32_t)th[10] << 8 | th[11];
	seq = ack - 1;
	for (p = *probe_bucket(pr, seq); p != NULL; p = p->next) {
		if (p->seq != seq || p->answer != 0 ||
		    (th[0] << 8 | th[1]) != addr_port(&p->to) ||
		    !addr_same_host(&p->to, from))
			continue;
		p->answer = (flags & TH_RST) ? TH_RST : TH_SYN;
		p->answered = now;
		probe_unlink(p);
		task_wake(p->w);
		break;
	}
	return (!(flags & TH_RST) && (flags & TH_SYN));
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
			if (!prober_answer(pr, th, len, &from[i], now) || ours == NULL)
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

static void
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
static int
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
static int
probe_send(struct probe *p, double now)
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

/* A probe from the free list, or a new one; NULL when out of memory. */
static struct probe *
probe_get(struct prober *pr)
{
	struct probe	*p;

	if ((p = pr->free) != NULL) {
		pr->free = p->next;
		memset(p, 0, sizeof(*p));
	} else if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->pr = pr;
	return (p);
}


/*
 * The probe's wait is over: it goes on the free list, where nothing uses it
 * before the next call from Lua (its task's waiter is still being detached).
 */
static void
probe_release(struct probe *p)
{
	probe_unlink(p);
	if (p->pr->closed) {
		free(p);
		return;
	}
	p->next = p->pr->free;
	p->pr->free = p;
}

/* The task was cancelled while it waited: the probe stops listening for its answer. */
static void
probe_cancel(struct waiter *w)
{
	probe_release(w->arg);
}

/*
 * The wait ended: an answer pushes the round trip or "connection refused";
 * a timeout before the deadline retransmits the SYN (after 1, 2, 4 ... s, as
 * TCP does) and waits on; at the deadline, "timeout".
 */
static int
probe_done(lua_State *co, struct waiter *w, short what)
{
	struct probe	*p = w->arg;
	double		 now;

	if (p->answer == TH_SYN) {
		lua_pushnumber(co, p->answered - p->sent);
		probe_release(p);
		return (1);
	}
	if (p->answer == TH_RST) {
		lua_pushnil(co);
		lua_pushliteral(co, "connection refused");
		probe_release(p);
		return (2);
	}
	if (!(what & EV_TIMEOUT))
		return (-1);
	now = loop_now();
	if (now < p->deadline) {
		if (probe_send(p, now) == -1) {
			luaha_fail_errno(co, "sendto");
			probe_release(p);
			return (2);
		}
		p->rto *= 2;
		w->deadline = now + p->rto < p->deadline ? now + p->rto : p->deadline;
		return (-1);
	}
	probe_release(p);
	lua_pushnil(co);
	lua_pushliteral(co, "timeout");
	return (2);
}

/*
 * The state is closing: the probes on the free list go now, those still
 * waiting when their tasks let them go (the prober's memory lasts until
 * every finalizer has run).
 */
static int
prober_gc(lua_State *L)
{
	struct prober	*pr = lua_touserdata(L, 1);
	struct probe	*p;

	while ((p = pr->free) != NULL) {
		pr->free = p->next;
		free(p);
	}
	pr->closed = 1;
	prober_close(pr);
	free(pr->routes);
	pr->routes = NULL;
	return (0);
}

/* The prober of the family (upvalue 1 for IPv4, 2 for IPv6), its sockets opened. */
static struct prober *
prober_get(lua_State *L, int family, const char **what)
{
	struct prober	*pr;

	pr = lua_touserdata(L, lua_upvalueindex(family == AF_INET ? 1 : 2));
	if (pr->fd == -1 && prober_open(pr, what) == -1)
		return (NULL);
	return (pr);
}

/*
 * tcp_halfopen(address, port [, {timeout=, source=}]): sends a SYN; the round
 * trip in seconds when a SYN-ACK comes back, or nil and "connection refused"
 * (a RST), "timeout" or "<what>: <reason>". Needs CAP_NET_RAW. Yields.
 */
static int
halfopen_probe(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1), *source, *what;
	int			 port = (int)luaL_checkinteger(L, 2);
	struct sockaddr_storage	 to, src;
	socklen_t		 tolen, srclen;
	struct prober		*pr;
	struct probe		*p;
	double			 timeout, now;

	lua_settop(L, 3);
	luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port 1-65535 expected");
	if (net_addr(addr, port, &to, &tolen) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address"));
	luaha_check_options(L, 3, halfopen_options);
	timeout = luaha_opt_seconds(L, 3, "timeout", HALFOPEN_TIMEOUT);
	memset(&src, 0, sizeof(src));
	source = luaha_opt_string(L, 3, "source");
	if (source != NULL && (net_addr(source, 0, &src, &srclen) == -1 ||
	    src.ss_family != to.ss_family))
		return (luaL_error(L, "option 'source' is not an address of the same family"));
	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	if ((pr = prober_get(L, to.ss_family, &what)) == NULL)
		return (luaha_fail_errno(L, what));

	if ((p = probe_get(pr)) == NULL)
		return (luaL_error(L, "tcp_halfopen: out of memory"));
	memcpy(&p->to, &to, tolen);
	p->tolen = tolen;
	if (source != NULL)
		memcpy(&p->src, &src, srclen);
	p->seq = pr->next_seq;
	pr->next_seq += 2654435761U;	/* odd: 2^32 probes before a number comes back */
	p->w = task_self_waiter(L);
	p->w->cancel = probe_cancel;
	now = loop_now();
	p->sent = now;
	p->deadline = now + timeout;
	p->rto = HALFOPEN_RTO;
	if (probe_send(p, now) == -1) {
		luaha_fail_errno(L, "sendto");
		probe_release(p);
		return (2);
	}
	probe_link(p);
	return (task_wait_at(L, p->w, -1, 0, now, timeout < p->rto ? timeout : p->rto,
	    probe_done, p, 0));
}

/* A prober userdata for family, closed by its __gc when the state closes. */
static void
prober_push(lua_State *L, int family)
{
	struct prober	*pr = lua_newuserdatauv(L, sizeof(*pr), 0);

	memset(pr, 0, sizeof(*pr));
	pr->family = family;
	pr->fd = pr->port_fd = pr->route_fd = -1;
	luaL_setmetatable(L, "luaha.halfopen.prober");
}

int
luaopen_luaha_core_halfopen(lua_State *L)
{
	luaL_newmetatable(L, "luaha.halfopen.prober");
	lua_pushcfunction(L, prober_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	lua_newtable(L);
	prober_push(L, AF_INET);
	prober_push(L, AF_INET6);
	lua_pushcclosure(L, halfopen_probe, 2);
	lua_setfield(L, -2, "tcp_halfopen");
	return (1);
}
