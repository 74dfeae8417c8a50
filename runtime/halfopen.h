/* halfopen.h: declarations shared by halfopen.c (the probes, luaha.net.tcp_halfopen) and prober.c (their raw sockets) only. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_HALFOPEN_H
#define LUAHA_HALFOPEN_H

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>

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
	void			(*done)(struct probe *);	/* instead of waking w: checker.c's */
	void			*arg;	/* for done */
	uint32_t		 slot;	/* for done: checker.c's target */
};

/* The port of an address, host order. */
static inline uint16_t
addr_port(const union inet_addr *a)
{
	return (ntohs(a->sa.sa_family == AF_INET ? a->sin.sin_port : a->sin6.sin6_port));
}

/* halfopen.c */
int	 halfopen_answer(struct prober *, const uint8_t *, size_t,
	    const struct sockaddr_storage *, double);
struct probe *halfopen_get(struct prober *);
void	 halfopen_link(struct probe *);
void	 halfopen_release(struct probe *);
void	 halfopen_prober_free(struct prober *);

/* prober.c */
int	 prober_open(struct prober *, const char **);
void	 prober_close(struct prober *);
int	 prober_syn(struct probe *, double);

#endif
