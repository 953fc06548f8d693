"""The classroom: rooms where students follow the teacher's view (:mod:`cnnviz.classroom.rooms`), their codes
(:mod:`cnnviz.classroom.codes`) and the quizzes asked in them (:mod:`cnnviz.classroom.quiz`)."""
