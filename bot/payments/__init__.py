"""Payment methods: providers behind one small interface (:mod:`bot.payments.provider`)."""
