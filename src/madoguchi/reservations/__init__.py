"""施設予約・抽選・キャンセル待ち・イベント申込 (facility reservations, lotteries, waitlists,
events): the highest-volume procedures, fair under a rush, with a draw anyone can verify."""
